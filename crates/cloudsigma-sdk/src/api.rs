//! The calls, one handle per resource family. A handle borrows the [`Client`] and sends nothing
//! until one of its methods is awaited.

use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{require_basic, segment, Base, Call, Client, Payload, Safety};
use crate::error::CloudSigmaError;
use crate::types::{
    Balance, Capabilities, Drive, DriveUpdate, Filter, Ip, IpUpdate, LocationInfo, NewDrive,
    NewServer, NewSubscription, Pricing, Profile, Recurse, Server, ServerAction, Subscription,
    SubscriptionFilter, Tag,
};

type Result<T> = std::result::Result<T, CloudSigmaError>;

/// Escapes one filter value so that CloudSigma does not split it: `,` becomes `\,` and a `\`
/// just before a `,` becomes `\\` (D:general.rst, "Filtering").
fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ',' => out.push_str("\\,"),
            '\\' if chars.peek() == Some(&',') => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

fn filter_query(filter: &Filter) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(name) = &filter.name {
        q.push(("name", escape_filter_value(name)));
    }
    if !filter.uuids.is_empty() {
        let joined: Vec<String> = filter
            .uuids
            .iter()
            .map(|u| escape_filter_value(u.trim()))
            .collect();
        q.push(("uuid", joined.join(",")));
    }
    if let Some(tag) = &filter.tag {
        q.push(("tag", escape_filter_value(tag)));
    }
    q
}

impl Client {
    /// `GET profile/`: 200 proves the credentials (CLOUDSIGMA.md §0).
    pub async fn profile(&self) -> Result<Profile> {
        self.json(Call::new(Method::GET, "profile/", "get the profile"))
            .await
    }

    /// `GET balance/`.
    pub async fn balance(&self) -> Result<Balance> {
        self.json(Call::new(Method::GET, "balance/", "get the balance"))
            .await
    }

    /// `GET locations/?limit=0`: every location and its API, upload and websocket bases.
    pub async fn locations(&self) -> Result<Vec<LocationInfo>> {
        self.list_all("locations/", Vec::new(), "list locations")
            .await
    }

    /// `GET capabilities/`.
    pub async fn capabilities(&self) -> Result<Capabilities> {
        self.json(Call::new(Method::GET, "capabilities/", "get capabilities"))
            .await
    }

    /// `GET pricing/?limit=0`: every price row of every level and currency (D:billing.rst).
    pub async fn pricing(&self) -> Result<Pricing> {
        let call = Call::new(Method::GET, "pricing/", "get pricing").query("limit", "0");
        self.json(call).await
    }

    pub fn servers(&self) -> Servers<'_> {
        Servers { client: self }
    }

    pub fn drives(&self) -> Drives<'_> {
        Drives { client: self }
    }

    pub fn ips(&self) -> Ips<'_> {
        Ips { client: self }
    }

    pub fn subscriptions(&self) -> Subscriptions<'_> {
        Subscriptions { client: self }
    }

    pub fn tags(&self) -> Tags<'_> {
        Tags { client: self }
    }

    /// A DELETE answered 204 (asynchronous: "deletion started", D:general.rst); the body is not
    /// read.
    async fn delete_path(&self, call: Call) -> Result<()> {
        self.send(&call).await.map(|_| ())
    }
}

/// Servers (D:servers.rst).
#[derive(Clone, Copy, Debug)]
pub struct Servers<'a> {
    client: &'a Client,
}

impl Servers<'_> {
    /// `GET servers/detail/?limit=0&...`: full objects, every page.
    pub async fn list(&self, filter: &Filter) -> Result<Vec<Server>> {
        self.client
            .list_all("servers/detail/", filter_query(filter), "list servers")
            .await
    }

    /// `GET servers/{uuid}/`.
    pub async fn get(&self, uuid: &str) -> Result<Server> {
        let path = format!("servers/{}/", segment("server uuid", uuid)?);
        self.client
            .json(Call::new(Method::GET, path, format!("get server {uuid}")))
            .await
    }

    /// `GET servers/{uuid}/` as raw JSON, every field as given: the safest start of a
    /// read-modify-write for [`Servers::update`] (CLOUDSIGMA.md §5.4).
    pub async fn get_value(&self, uuid: &str) -> Result<Value> {
        let path = format!("servers/{}/", segment("server uuid", uuid)?);
        self.client
            .json(Call::new(Method::GET, path, format!("get server {uuid}")))
            .await
    }

    /// `POST servers/` with `{"objects": [server]}` → 201. The server is created `stopped`
    /// (CLOUDSIGMA.md §5.2). Never sent twice: a lost answer is
    /// [`CloudSigmaError::OutcomeUnknown`]; look the server up by name before creating again.
    pub async fn create(&self, server: &NewServer) -> Result<Server> {
        self.client
            .create_one(
                "servers/",
                server,
                &format!("create server {:?}", server.name),
            )
            .await
    }

    /// `PUT servers/{uuid}/` with the whole definition (`name`, `cpu`, `mem`, `vnc_password`
    /// required; `meta` replaced as a whole). On a running server only name, meta and tags
    /// change and the rest is silently ignored (D:servers.rst): read back and compare.
    pub async fn update(&self, uuid: &str, definition: &Value) -> Result<Server> {
        let path = format!("servers/{}/", segment("server uuid", uuid)?);
        let call =
            Call::new(Method::PUT, path, format!("update server {uuid}")).json(definition)?;
        self.client.json(call).await
    }

    /// `DELETE servers/{uuid}/[?recurse=...]` → 204; deletion is asynchronous (poll `get` for
    /// 404). Whether a running server can be deleted is not established: stop it first.
    /// A 404 on a retry after an attempt whose answer was lost counts as done.
    pub async fn delete(&self, uuid: &str, recurse: Recurse) -> Result<()> {
        let path = format!("servers/{}/", segment("server uuid", uuid)?);
        let mut call = Call::new(Method::DELETE, path, format!("delete server {uuid}"));
        if let Some(r) = recurse.query_value() {
            call = call.query("recurse", r);
        }
        self.client.delete_path(call).await
    }

    /// `POST servers/{uuid}/action/?do=start|stop|shutdown` with body `{}` (P sends `{}` "to
    /// workaround API issue TUR-1346", CLOUDSIGMA.md §5.6) → 202. Not repeated once sent: a
    /// 403 usually means the server is in the wrong state; re-read it and decide.
    pub async fn action(&self, uuid: &str, action: ServerAction) -> Result<()> {
        let path = format!("servers/{}/action/", segment("server uuid", uuid)?);
        let call = Call::new(
            Method::POST,
            path,
            format!("{} server {uuid}", action.as_str()),
        )
        .query("do", action.as_str())
        .safety(Safety::Action)
        .json(&json!({}))?;
        self.client.send(&call).await.map(|_| ())
    }
}

/// Drives (D:drives.rst, D:upload_download.rst).
#[derive(Clone, Copy, Debug)]
pub struct Drives<'a> {
    client: &'a Client,
}

impl Drives<'_> {
    /// `GET drives/detail/?limit=0&...`: every page. Library drives are not listed here.
    pub async fn list(&self, filter: &Filter) -> Result<Vec<Drive>> {
        self.client
            .list_all("drives/detail/", filter_query(filter), "list drives")
            .await
    }

    /// `GET drives/{uuid}/` (library drives too).
    pub async fn get(&self, uuid: &str) -> Result<Drive> {
        let path = format!("drives/{}/", segment("drive uuid", uuid)?);
        self.client
            .json(Call::new(Method::GET, path, format!("get drive {uuid}")))
            .await
    }

    /// `POST drives/` with `{"objects": [drive]}` → 201, status `creating`; wait for
    /// `unmounted`. Never sent twice: a lost answer is [`CloudSigmaError::OutcomeUnknown`].
    pub async fn create(&self, drive: &NewDrive) -> Result<Drive> {
        self.client
            .create_one("drives/", drive, &format!("create drive {:?}", drive.name))
            .await
    }

    /// `PUT drives/{uuid}/` with the whole editable definition.
    pub async fn update(&self, uuid: &str, update: &DriveUpdate) -> Result<Drive> {
        let path = format!("drives/{}/", segment("drive uuid", uuid)?);
        let call = Call::new(Method::PUT, path, format!("update drive {uuid}")).json(update)?;
        self.client.json(call).await
    }

    /// `DELETE drives/{uuid}/` → 204, asynchronous.
    pub async fn delete(&self, uuid: &str) -> Result<()> {
        let path = format!("drives/{}/", segment("drive uuid", uuid)?);
        self.client
            .delete_path(Call::new(
                Method::DELETE,
                path,
                format!("delete drive {uuid}"),
            ))
            .await
    }

    /// Uploads a raw image as a new drive: `POST {upload_base}drives/upload/`,
    /// `Content-Type: application/octet-stream`, `Content-Length` = the exact size (it becomes
    /// the drive's size; smaller than the minimum is grown). Basic authentication only
    /// (D:upload_download.rst): token credentials are refused before anything is sent.
    ///
    /// The answer is documented as "the UUID" (printed by curl); its content type is not
    /// established (CLOUDSIGMA.md §11), so plain text, a JSON string, `{"uuid": ...}` and
    /// `{"objects": [{"uuid": ...}]}` are all read. The media of the new drive is not
    /// documented (assume `disk`; `update` it to `cdrom` for an ISO). Never sent twice: a lost
    /// answer is [`CloudSigmaError::OutcomeUnknown`].
    pub async fn upload(&self, bytes: Vec<u8>) -> Result<String> {
        let what = format!("upload a drive image of {} bytes", bytes.len());
        require_basic(self.client.credentials(), &what)?;
        let mut call =
            Call::new(Method::POST, "drives/upload/", what.clone()).safety(Safety::Create);
        call.base = Base::Upload;
        call.payload = Payload::Octets(bytes);
        let answer = self.client.send(&call).await?;
        uuid_from_upload_answer(&answer.body).ok_or_else(|| {
            // CloudSigma said yes but this client cannot tell which drive it made.
            let excerpt: String = String::from_utf8_lossy(&answer.body)
                .chars()
                .take(100)
                .collect();
            CloudSigmaError::OutcomeUnknown {
                what: format!(
                    "{what} (HTTP {} answered without a readable uuid: {excerpt:?})",
                    answer.status
                ),
            }
        })
    }
}

/// The uuid in an upload's answer, whatever its form.
fn uuid_from_upload_answer(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let found = match &value {
            Value::String(s) => Some(s.clone()),
            Value::Object(map) => map
                .get("uuid")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    map.get("objects")?
                        .as_array()?
                        .first()?
                        .get("uuid")?
                        .as_str()
                        .map(str::to_string)
                }),
            Value::Array(items) => items
                .first()
                .and_then(|o| o.get("uuid"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        };
        return found
            .map(|s| s.trim().to_string())
            .filter(|s| looks_like_id(s));
    }
    let bare = text.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    looks_like_id(bare).then(|| bare.to_string())
}

fn looks_like_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// IP addresses (D:networking.rst). They are bought as subscriptions, never created here.
#[derive(Clone, Copy, Debug)]
pub struct Ips<'a> {
    client: &'a Client,
}

impl Ips<'_> {
    /// `GET ips/detail/?limit=0`: owned IPs and DHCP IPs now on the account's servers.
    pub async fn list(&self) -> Result<Vec<Ip>> {
        self.client
            .list_all("ips/detail/", Vec::new(), "list IPs")
            .await
    }

    /// `GET ips/{address}/`.
    pub async fn get(&self, address: &str) -> Result<Ip> {
        let path = format!("ips/{}/", segment("IP address", address)?);
        self.client
            .json(Call::new(Method::GET, path, format!("get IP {address}")))
            .await
    }

    /// `PUT ips/{address}/` with `meta` and `tags`, both replaced as a whole.
    pub async fn update(&self, address: &str, update: &IpUpdate) -> Result<Ip> {
        let path = format!("ips/{}/", segment("IP address", address)?);
        let call = Call::new(Method::PUT, path, format!("update IP {address}")).json(update)?;
        self.client.json(call).await
    }
}

/// Subscriptions (D:subscriptions.rst): how IPs and VLANs are bought. They cannot be
/// cancelled or deleted; only auto-renew can change (CLOUDSIGMA.md §7.2).
#[derive(Clone, Copy, Debug)]
pub struct Subscriptions<'a> {
    client: &'a Client,
}

impl Subscriptions<'_> {
    /// `GET subscriptions/?limit=0&resource=..&status=..`: every page.
    pub async fn list(&self, filter: &SubscriptionFilter) -> Result<Vec<Subscription>> {
        let mut q = Vec::new();
        if let Some(r) = &filter.resource {
            q.push(("resource", r.clone()));
        }
        if let Some(s) = &filter.status {
            q.push(("status", s.clone()));
        }
        self.client
            .list_all("subscriptions/", q, "list subscriptions")
            .await
    }

    /// `POST subscriptions/` with `{"objects": [...]}` → 201 (402 when funds are short). Buying
    /// costs money: never sent twice; a lost answer is [`CloudSigmaError::OutcomeUnknown`]
    /// (list subscriptions and IPs to see what was bought).
    pub async fn create(&self, subscriptions: &[NewSubscription]) -> Result<Vec<Subscription>> {
        if subscriptions.is_empty() {
            return Ok(Vec::new());
        }
        let resources: Vec<&str> = subscriptions.iter().map(|s| s.resource.as_str()).collect();
        self.client
            .create_many(
                "subscriptions/",
                subscriptions,
                &format!("buy subscriptions for {}", resources.join(", ")),
            )
            .await
    }

    /// `POST subscriptions/{id}/action/?do=auto_renew` with body `{"auto_renew": on}`.
    ///
    /// The docs say the action toggles the flag and that "optionally, the value can be
    /// specified in the request" without saying how; libcloud sends no body. The body format is
    /// therefore not established (CLOUDSIGMA.md §7.2, §11): read the subscription back to
    /// confirm the flag.
    pub async fn set_auto_renew(&self, id: &str, on: bool) -> Result<()> {
        let path = format!("subscriptions/{}/action/", segment("subscription id", id)?);
        let call = Call::new(
            Method::POST,
            path,
            format!("set auto-renew of subscription {id} to {on}"),
        )
        .query("do", "auto_renew")
        .safety(Safety::Action)
        .json(&json!({ "auto_renew": on }))?;
        self.client.send(&call).await.map(|_| ())
    }
}

/// Tags (D:tags.rst). Tags take no filters; match names yourself. Names are not documented as
/// unique.
#[derive(Clone, Copy, Debug)]
pub struct Tags<'a> {
    client: &'a Client,
}

impl Tags<'_> {
    /// `GET tags/?limit=0`: every page.
    pub async fn list(&self) -> Result<Vec<Tag>> {
        self.client.list_all("tags/", Vec::new(), "list tags").await
    }

    /// `GET tags/{uuid}/`.
    pub async fn get(&self, uuid: &str) -> Result<Tag> {
        let path = format!("tags/{}/", segment("tag uuid", uuid)?);
        self.client
            .json(Call::new(Method::GET, path, format!("get tag {uuid}")))
            .await
    }

    /// `POST tags/` with `{"objects": [{"name", "resources"}]}` → 201. Never sent twice: a lost
    /// answer is [`CloudSigmaError::OutcomeUnknown`]; list tags by name before creating again.
    pub async fn create(&self, name: &str, resources: &[String]) -> Result<Tag> {
        let body = json!({ "name": name, "resources": resources });
        self.client
            .create_one("tags/", &body, &format!("create tag {name:?}"))
            .await
    }

    /// `DELETE tags/{uuid}/` → 204.
    pub async fn delete(&self, uuid: &str) -> Result<()> {
        let path = format!("tags/{}/", segment("tag uuid", uuid)?);
        self.client
            .delete_path(Call::new(
                Method::DELETE,
                path,
                format!("delete tag {uuid}"),
            ))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_escape_commas() {
        assert_eq!(escape_filter_value("a,b"), "a\\,b");
        assert_eq!(escape_filter_value("a\\,b"), "a\\\\\\,b");
        assert_eq!(escape_filter_value("a\\b"), "a\\b");
        let q = filter_query(&Filter {
            name: Some("cycle-1".into()),
            uuids: vec!["u1".into(), "u2".into()],
            tag: Some("t".into()),
        });
        assert_eq!(
            q,
            vec![
                ("name", "cycle-1".to_string()),
                ("uuid", "u1,u2".to_string()),
                ("tag", "t".to_string())
            ]
        );
    }

    #[test]
    fn upload_answers_in_every_form() {
        let u = "3d504199-6bac-4612-a19e-691c9c6c6728";
        for body in [
            format!("{u}\n"),
            format!("\"{u}\""),
            format!("{{\"uuid\": \"{u}\"}}"),
            format!("{{\"objects\": [{{\"uuid\": \"{u}\"}}]}}"),
        ] {
            assert_eq!(
                uuid_from_upload_answer(body.as_bytes()).as_deref(),
                Some(u),
                "{body}"
            );
        }
        assert_eq!(uuid_from_upload_answer(b"<html>oops</html>"), None);
        assert_eq!(uuid_from_upload_answer(b""), None);
    }
}

//! A location, for CloudSigma: Cycle's iPXE ISO uploaded once per account and location, as a
//! CD-ROM drive every server there boots from, and the bridge's tag. Both are found again by name
//! (the ISO also by the checksum in its `meta`), so configuring again, on any replica, adopts what
//! is there (CLOUDSIGMA.md §6.3, §9).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::error::{failed, Doing};
use super::{CloudSigma, Sigma, MANAGED_BY, META_MANAGED_BY, TAG_NAME};
use crate::core::backend::{Caller, LocationState};
use crate::core::by_name;
use crate::core::error::CoreError;
use cloudsigma_sdk::types::{Drive, DriveUpdate};
use cloudsigma_sdk::{Client, Filter};

/// Bumped when the shape of `configuration_latest` changes.
pub const CONFIG_VERSION: &str = "cloudsigma-1";
/// The ISO's checksum, in its `meta` (keys ≤ 32 characters, D:meta.rst).
const META_SHA256: &str = "ipxe_sha256";

/// What `configuration_latest` holds for a CloudSigma location.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationConfig {
    pub location: String,
    pub iso_drive: String,
    pub iso_sha256: String,
    pub tag: String,
}

impl LocationConfig {
    pub fn to_state(&self) -> LocationState {
        let mut data = Map::new();
        data.insert("backend".into(), json!("cloudsigma"));
        data.insert("location".into(), json!(self.location));
        data.insert("iso_drive_uuid".into(), json!(self.iso_drive));
        data.insert("iso_sha256".into(), json!(self.iso_sha256));
        data.insert("tag_uuid".into(), json!(self.tag));
        LocationState {
            version: CONFIG_VERSION.into(),
            data,
        }
    }

    /// Cycle's copy, when it is this backend's and names everything.
    pub fn from_data(data: &Map<String, Value>) -> Option<Self> {
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        if text("backend").as_deref() != Some("cloudsigma") {
            return None;
        }
        Some(Self {
            location: text("location")?,
            iso_drive: text("iso_drive_uuid")?,
            iso_sha256: text("iso_sha256")?,
            tag: text("tag_uuid")?,
        })
    }
}

/// The ISO drive's name: the image's checksum in it, so a new image is a new drive.
pub fn iso_name(sha256: &str) -> String {
    format!("cycle-ipxe-{}", &sha256[..16.min(sha256.len())])
}

/// Makes sure `location` holds the bridge's tag and Cycle's ISO; adopts what `current` names when
/// it is still there.
pub async fn ensure(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    location: &str,
    current: Option<&Map<String, Value>>,
) -> Result<LocationConfig, CoreError> {
    let client = caller.account.client(location)?;
    let _held = backend
        .locks
        .lock(&format!(
            "location/{}/{location}",
            caller.account.scope_key()
        ))
        .await;
    if let Some(known) = current.and_then(LocationConfig::from_data) {
        // A pinned checksum that changed means a new image: a new ISO drive.
        let current_image = backend
            .ipxe_sha256
            .as_ref()
            .is_none_or(|sha| *sha == known.iso_sha256);
        if known.location == location && current_image && still_there(client, &known).await? {
            return Ok(known);
        }
    }
    let tag = tag(client).await?;
    // With the checksum pinned, an ISO already there is found without downloading the image.
    let sha256 = match backend.ipxe_sha256.clone() {
        Some(sha) => sha,
        None => backend.image().await?.sha256,
    };
    let iso = iso(backend, &caller.account, location, &tag, &sha256).await?;
    Ok(LocationConfig {
        location: location.to_string(),
        iso_drive: iso,
        iso_sha256: sha256,
        tag,
    })
}

/// Whether the ISO and tag Cycle's copy names still exist, the ISO as a CD-ROM of the image the
/// bridge is set to boot.
async fn still_there(client: &Client, known: &LocationConfig) -> Result<bool, CoreError> {
    let drive = match client.drives().get(&known.iso_drive).await {
        Ok(d) => d,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e).doing(|| format!("reading ISO drive {}", known.iso_drive)),
    };
    let tag = match client.tags().get(&known.tag).await {
        Ok(_) => true,
        Err(e) if e.is_not_found() => false,
        Err(e) => return Err(e).doing(|| format!("reading tag {}", known.tag)),
    };
    Ok(tag
        && drive.media == "cdrom"
        && drive.meta.get(META_SHA256) == Some(&known.iso_sha256)
        && is_ready(&drive))
}

pub fn is_ready(drive: &Drive) -> bool {
    matches!(drive.status.as_str(), "unmounted" | "mounted")
}

/// The bridge's tag in this account, made once; of two made by racing replicas, the first by
/// uuid wins (tags have no creation time).
async fn tag(client: &Client) -> Result<String, CoreError> {
    let tags = client
        .tags()
        .list()
        .await
        .doing(|| "listing tags".to_string())?;
    if let Some(t) = tags
        .iter()
        .filter(|t| t.name == TAG_NAME)
        .min_by(|a, b| a.uuid.cmp(&b.uuid))
    {
        return Ok(t.uuid.clone());
    }
    // Made, or perhaps made (a lost answer), or made by a racing replica too: the list says
    // which tag every replica keeps.
    let made = client.tags().create(TAG_NAME, &[]).await;
    if let Err(e) = made {
        if e.kind() != cloudsigma_sdk::ErrorKind::OutcomeUnknown {
            return Err(e).doing(|| format!("creating tag {TAG_NAME}"));
        }
    }
    let tags = client
        .tags()
        .list()
        .await
        .doing(|| "listing tags".to_string())?;
    tags.into_iter()
        .filter(|t| t.name == TAG_NAME)
        .min_by(|a, b| a.uuid.cmp(&b.uuid))
        .map(|t| t.uuid)
        .ok_or_else(|| {
            failed("creating the bridge's tag: the answer was lost and no tag was made; retry")
        })
}

/// Cycle's ISO in this location: found by name and checksum, or uploaded, then made a CD-ROM.
async fn iso(
    backend: &CloudSigma,
    account: &Sigma,
    location: &str,
    tag: &str,
    sha256: &str,
) -> Result<String, CoreError> {
    let client = account.client(location)?;
    let name = iso_name(sha256);
    let deadline = Instant::now() + backend.wait();
    let found = by_iso_name(client, &name, sha256).await?;
    let pending_key = format!("{}/{location}/{sha256}", account.scope_key());
    let pending = backend.pending_upload(&pending_key);
    let drive = match (by_name::winner(found.iter()), pending) {
        (Some(d), _) => d.clone(),
        // This replica's upload of an earlier call, not named yet (its wait ran out): taken up
        // again rather than uploaded twice.
        (None, Some(uuid)) if drive_exists(client, &uuid).await? => {
            wait_ready(client, &uuid, deadline).await?
        }
        (None, _) => {
            let image = backend.image().await?;
            let uploaded = upload(backend, account, location, &image).await?;
            backend.note_upload(&pending_key, Some(uploaded.clone()));
            wait_ready(client, &uploaded, deadline).await?
        }
    };
    let drive = if is_ready(&drive) {
        drive
    } else {
        wait_ready(client, &drive.uuid, deadline).await?
    };
    if drive.media == "cdrom"
        && drive.name == name
        && drive.meta.get(META_SHA256).map(String::as_str) == Some(sha256)
    {
        return Ok(drive.uuid);
    }
    // An upload is a `disk` (the media of an upload is not documented, CLOUDSIGMA.md §6.3): make
    // it the CD-ROM servers boot from, named and marked so that it is found again.
    let mut meta = drive.meta.clone();
    meta.insert(META_MANAGED_BY.into(), MANAGED_BY.into());
    meta.insert(META_SHA256.into(), sha256.to_string());
    let mut tags: BTreeSet<String> = drive.tags.iter().map(|t| t.uuid.clone()).collect();
    tags.insert(tag.to_string());
    let update = DriveUpdate {
        name: name.clone(),
        size: drive.size,
        media: "cdrom".into(),
        meta,
        tags: tags.into_iter().collect(),
    };
    let updated = client
        .drives()
        .update(&drive.uuid, &update)
        .await
        .doing(|| format!("making drive {} Cycle's iPXE CD-ROM", drive.uuid))?;
    if updated.media != "cdrom" {
        return Err(failed(format!(
            "drive {} did not become a CD-ROM (media {:?})",
            drive.uuid, updated.media
        )));
    }
    backend.note_upload(&pending_key, None);
    // Racing replicas may each have uploaded one: every replica keeps the same one, and each
    // deletes its own copy when it is not that one (no server uses it yet).
    let all = by_iso_name(client, &name, sha256).await?;
    let kept = by_name::winner(all.iter()).map_or_else(|| drive.uuid.clone(), |d| d.uuid.clone());
    if kept != drive.uuid {
        match client.drives().delete(&drive.uuid).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(e).doing(|| format!("deleting duplicate ISO drive {}", drive.uuid))
            }
        }
    }
    Ok(kept)
}

async fn drive_exists(client: &Client, uuid: &str) -> Result<bool, CoreError> {
    match client.drives().get(uuid).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e).doing(|| format!("reading drive {uuid}")),
    }
}

/// The bridge's ISO drives of this name and checksum, oldest first by the one rule.
async fn by_iso_name(client: &Client, name: &str, sha256: &str) -> Result<Vec<Drive>, CoreError> {
    let drives = client
        .drives()
        .list(&Filter {
            name: Some(name.to_string()),
            ..Default::default()
        })
        .await
        .doing(|| format!("looking for ISO drive {name}"))?;
    Ok(drives
        .into_iter()
        .filter(|d| d.name == name && d.meta.get(META_SHA256).map(String::as_str) == Some(sha256))
        .collect())
}

/// Uploads the image and answers the new drive's uuid. An upload whose answer was lost made a
/// drive with no name of ours: the drives that appeared during the upload, of its size at least
/// and with no `meta`, are it (only Basic authentication uploads, D:upload_download.rst).
async fn upload(
    backend: &CloudSigma,
    account: &Sigma,
    location: &str,
    image: &Image,
) -> Result<String, CoreError> {
    let client = account.client(location)?;
    let uploader = backend.upload_client(account, location).await?;
    let before: BTreeSet<String> = all_drives(client)
        .await?
        .into_iter()
        .map(|d| d.uuid)
        .collect();
    match uploader.drives().upload(image.bytes.clone()).await {
        Ok(uuid) => Ok(uuid),
        Err(e) if e.kind() == cloudsigma_sdk::ErrorKind::OutcomeUnknown => {
            let len = image.bytes.len() as u64;
            all_drives(client)
                .await?
                .into_iter()
                .filter(|d| {
                    // New since the upload began, of the image's size as CloudSigma rounds it (to
                    // 64 KiB, or up to its smallest drive), not named or marked by anyone, still
                    // being uploaded or just done.
                    !before.contains(&d.uuid)
                        && d.size >= len
                        && d.size <= len.div_ceil(65536) * 65536 + (1 << 30)
                        && d.meta.is_empty()
                        && d.media == "disk"
                        && matches!(d.status.as_str(), "uploading" | "unmounted")
                })
                .min_by(|a, b| a.uuid.cmp(&b.uuid))
                .map(|d| d.uuid)
                .ok_or_else(|| failed("uploading Cycle's iPXE ISO: the answer was lost and no new drive is there; retry"))
        }
        Err(e) => Err(e).doing(|| format!("uploading Cycle's iPXE ISO to {location}")),
    }
}

async fn all_drives(client: &Client) -> Result<Vec<Drive>, CoreError> {
    client
        .drives()
        .list(&Filter::default())
        .await
        .doing(|| "listing drives".to_string())
}

/// Waits for a drive to be usable (`unmounted` or `mounted`, CLOUDSIGMA.md §6.2).
pub async fn wait_ready(
    client: &Client,
    uuid: &str,
    deadline: Instant,
) -> Result<Drive, CoreError> {
    let mut round = 0;
    loop {
        let drive = client
            .drives()
            .get(uuid)
            .await
            .doing(|| format!("reading drive {uuid}"))?;
        if is_ready(&drive) {
            return Ok(drive);
        }
        if drive.status == "unavailable" {
            return Err(failed(format!("drive {uuid} is unavailable")));
        }
        if !by_name::pause(round, deadline).await {
            return Err(CoreError::Timeout(format!(
                "drive {uuid} is still {}; retry and the bridge continues with it",
                drive.status
            )));
        }
        round += 1;
    }
}

/// Cycle's iPXE ISO, downloaded and checked.
#[derive(Clone)]
pub struct Image {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Downloads the image from `url`, refusing more than `max` bytes and, when `expected` is set,
/// any other content.
pub async fn download(url: &str, expected: Option<&str>, max: u64) -> Result<Image, CoreError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .user_agent(crate::USER_AGENT)
        .build()
        .map_err(|e| failed(format!("building the download client: {e}")))?;
    let fail = |why: String| failed(format!("downloading Cycle's iPXE ISO from {url}: {why}"));
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > max {
            return Err(fail(format!("larger than {} MiB", max / (1024 * 1024))));
        }
    }
    let sha256 = hex(&Sha256::digest(&bytes));
    if let Some(expected) = expected {
        if sha256 != expected {
            return Err(fail(format!(
                "its SHA-256 is {sha256}, not the configured bridge.boot.ipxe_sha256 {expected}"
            )));
        }
    }
    Ok(Image { bytes, sha256 })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_copy_of_a_location_is_read_back_only_when_it_is_this_backends() {
        let config = LocationConfig {
            location: "zrh".into(),
            iso_drive: "d".into(),
            iso_sha256: "ab".repeat(32),
            tag: "t".into(),
        };
        let state = config.to_state();
        assert_eq!(state.version, CONFIG_VERSION);
        assert_eq!(LocationConfig::from_data(&state.data), Some(config));
        let mut crusoes = state.data.clone();
        crusoes.insert("backend".into(), json!("crusoe"));
        assert_eq!(LocationConfig::from_data(&crusoes), None);
        assert_eq!(iso_name(&"ab".repeat(32)), "cycle-ipxe-abababababababab");
    }
}

//! The iPXE boot images of boot mode `ipxe-image`: custom images that `crusoe-ial image build`
//! makes, one per project and location, each the boot disk of a VM that ran the `ipxe` mode's
//! conversion. Everything is found by name (design decision 1 in ARCHITECTURE.md): the name says which iPXE image
//! the disk holds and where it was made, so any replica finds it and a second build finds the first.

use std::time::Duration;

use moka::future::Cache;

use super::error::Doing;
use super::Tenant;
use crate::core::error::CoreError;
use crusoe_sdk::types::Image;
use crusoe_sdk::{CrusoeError, ProjectClient};

pub const IMAGE_PREFIX: &str = "crusoe-ial-ipxe-";
pub const BUILDER_PREFIX: &str = "crusoe-ial-image-builder-";

/// `crusoe-ial-ipxe-<first 12 hex of the iPXE image's sha256>-<location>`.
pub fn image_name(sha256: &str, location: &str) -> String {
    format!("{IMAGE_PREFIX}{}-{location}", &sha256[..12])
}

/// The VM that builds [`image_name`]'s image.
pub fn builder_name(sha256: &str, location: &str) -> String {
    format!("{BUILDER_PREFIX}{}-{location}", &sha256[..12])
}

/// The oldest custom image of a name: two builds that raced may have made two.
pub async fn find(project: &ProjectClient, name: &str) -> Result<Option<Image>, CrusoeError> {
    let mut images: Vec<Image> = project
        .custom_images()
        .list()
        .await?
        .into_iter()
        .filter(|i| i.name == name)
        .collect();
    crate::core::by_name::oldest_first(&mut images);
    Ok(images.into_iter().next())
}

/// Which image id a tenant's servers in a location boot, cached per tenant like the catalogue.
/// Only found images are cached, so a build is seen at the next provision.
pub struct BootImages {
    sha256: String,
    cache: Cache<([u8; 32], String), String>,
}

impl BootImages {
    pub fn new(sha256: String, ttl: Duration) -> Self {
        Self {
            sha256,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Drops a cached image id, e.g. when Crusoe refused to create a VM from it.
    pub async fn forget(&self, t: &Tenant, location: &str) {
        self.cache
            .invalidate(&(t.cache_key, location.to_string()))
            .await;
    }

    /// The image for `location`; when there is none, an error that says how to make it.
    pub async fn id_for(&self, t: &Tenant, location: &str) -> Result<String, CoreError> {
        let name = image_name(&self.sha256, location);
        self.cache
            .try_get_with((t.cache_key, location.to_string()), async {
                let image = find(&t.account, &name)
                    .await
                    .doing(|| format!("looking up the iPXE boot image {name}"))?;
                match image {
                    // The name says the location; `locations` may only narrow it when Crusoe
                    // fills it (nothing has shown that it does for custom images).
                    Some(image)
                        if image.locations.is_empty()
                            || image.locations.iter().any(|l| l == location) =>
                    {
                        Ok(image.id)
                    }
                    Some(image) => Err(CoreError::invalid(
                        format!(
                            "the iPXE boot image {name} of project {} is available in {} only, not in {location}; nothing was created",
                            t.account.id(),
                            image.locations.join(", ")
                        ),
                        "/request/location_id",
                    )),
                    None => Err(CoreError::invalid(
                        format!(
                            "project {} has no iPXE boot image for {location} ({name}), so a server there would boot nothing; nothing was created. Make it once with `crusoe-ial image build --location {location}` and this project's credentials",
                            t.account.id()
                        ),
                        "/request/location_id",
                    )),
                }
            })
            .await
            .map_err(|e| match std::sync::Arc::try_unwrap(e) {
                Ok(e) => e,
                Err(shared) => CoreError::Shared(shared),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_which_ipxe_image_and_where() {
        let sha = "67c7f1f8e062968209ca055283ca782f21faf6a18f55dd19848601bbaf8ed7aa";
        assert_eq!(
            image_name(sha, "us-east1-a"),
            "crusoe-ial-ipxe-67c7f1f8e062-us-east1-a"
        );
        assert_eq!(
            builder_name(sha, "us-east1-a"),
            "crusoe-ial-image-builder-67c7f1f8e062-us-east1-a"
        );
    }
}

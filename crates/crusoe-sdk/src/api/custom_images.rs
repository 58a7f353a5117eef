use reqwest::Method;

use super::OperationFamily;
use crate::client::Call;
use crate::types::{CreateCustomImageRequest, Image};
use crate::{CrusoeError, Pending, ProjectClient};

const CUSTOM_IMAGES: &str = "compute/custom-images";

/// `project.custom_images()`: images the project made of its own disks.
#[derive(Clone, Copy, Debug)]
pub struct CustomImages<'a> {
    project: &'a ProjectClient,
}

impl ProjectClient {
    pub fn custom_images(&self) -> CustomImages<'_> {
        CustomImages { project: self }
    }
}

impl CustomImages<'_> {
    /// `listCustomImages`. Crusoe offers no filter: callers pick by name.
    pub async fn list(self) -> Result<Vec<Image>, CrusoeError> {
        self.project
            .list_items("list_custom_images", CUSTOM_IMAGES)
            .await
    }

    /// `getCustomImage`.
    pub async fn get(self, image_id: &str) -> Result<Image, CrusoeError> {
        let what = "image_id";
        self.project
            .get_item("get_custom_image", CUSTOM_IMAGES, what, image_id)
            .await
    }

    /// `customImagePost`: an image of a disk (in practice the OS disk of a shut-off VM).
    pub async fn create(self, request: &CreateCustomImageRequest) -> Result<Pending, CrusoeError> {
        let path = self.project.path(&format!("/{CUSTOM_IMAGES}"))?;
        let call = Call::new("create_custom_image", Method::POST, path).json(request)?;
        self.project
            .start(OperationFamily::CustomImages, call)
            .await
    }

    /// `customImageDelete`.
    pub async fn delete(self, image_id: &str) -> Result<Pending, CrusoeError> {
        let family = OperationFamily::CustomImages;
        self.project
            .delete_item("delete_custom_image", family, "image_id", image_id)
            .await
    }
}

use reqwest::Method;

use super::{item_path, project_path};
use crate::client::{Call, CrusoeClient};
use crate::types::{CreateCustomImageRequest, Image, Operation};
use crate::CrusoeError;

const CUSTOM_IMAGES: &str = "compute/custom-images";

impl CrusoeClient {
    /// `listCustomImages`. Crusoe offers no filter: callers pick by name.
    pub async fn list_custom_images(&self, project_id: &str) -> Result<Vec<Image>, CrusoeError> {
        let path = project_path(project_id, &format!("/{CUSTOM_IMAGES}"))?;
        self.execute_items(Call::new("list_custom_images", Method::GET, path))
            .await
    }

    /// `getCustomImage`.
    pub async fn get_custom_image(
        &self,
        project_id: &str,
        image_id: &str,
    ) -> Result<Image, CrusoeError> {
        let path = item_path(project_id, CUSTOM_IMAGES, "image_id", image_id)?;
        self.execute(Call::new("get_custom_image", Method::GET, path))
            .await
    }

    /// `customImagePost`: an image of a disk (in practice the OS disk of a shut-off VM). Its
    /// operation is followed on [`OperationFamily::CustomImages`](crate::OperationFamily).
    pub async fn create_custom_image(
        &self,
        project_id: &str,
        request: &CreateCustomImageRequest,
    ) -> Result<Operation, CrusoeError> {
        let path = project_path(project_id, &format!("/{CUSTOM_IMAGES}"))?;
        let call = Call::new("create_custom_image", Method::POST, path).json(request)?;
        self.execute_operation(call).await
    }

    /// `customImageDelete`.
    pub async fn delete_custom_image(
        &self,
        project_id: &str,
        image_id: &str,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, CUSTOM_IMAGES, "image_id", image_id)?;
        self.execute_operation(Call::new("delete_custom_image", Method::DELETE, path))
            .await
    }
}

use reqwest::Method;

use crate::client::{join_filter, Call, CrusoeClient};
use crate::ids::PathId;
use crate::types::{Capacity, Image};
use crate::CrusoeError;

impl CrusoeClient {
    /// `listLocations`: plain location names.
    pub async fn list_locations(&self) -> Result<Vec<String>, CrusoeError> {
        self.execute_items(Call::new(
            "list_locations",
            Method::GET,
            "/locations".into(),
        ))
        .await
    }

    /// `listSliceCapacities`, filtered by product names and locations (empty: all).
    pub async fn list_capacities(
        &self,
        product_names: &[String],
        locations: &[String],
    ) -> Result<Vec<Capacity>, CrusoeError> {
        let mut call = Call::new("list_capacities", Method::GET, "/capacities".into());
        if let Some(v) = join_filter("product_name", product_names)? {
            call = call.query("product_name", v);
        }
        if let Some(v) = join_filter("location", locations)? {
            call = call.query("location", v);
        }
        self.execute_items(call).await
    }

    /// `listImages`, optionally only those for a product group (e.g. `h100`).
    pub async fn list_images(
        &self,
        product_group: Option<&str>,
    ) -> Result<Vec<Image>, CrusoeError> {
        let mut call = Call::new("list_images", Method::GET, "/compute/images".into());
        if let Some(group) = product_group {
            call = call.query("product_group", group);
        }
        self.execute_items(call).await
    }

    /// `getImage`.
    pub async fn get_image(&self, image_id: &str) -> Result<Image, CrusoeError> {
        let id = PathId::parse("image_id", image_id)?;
        self.execute(Call::new(
            "get_image",
            Method::GET,
            format!("/compute/images/{id}"),
        ))
        .await
    }
}

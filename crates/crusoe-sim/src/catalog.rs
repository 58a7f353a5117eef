//! The simulated cloud's catalogue: locations, VM types, stock, and public images. Modelled on
//! Crusoe's published product names; the numbers are plausible, not Crusoe's.

use serde_json::{json, Value};

pub const LOCATIONS: &[&str] = &[
    "us-east1-a",
    "us-northcentral1-a",
    "us-southcentral1-a",
    "eu-iceland1-a",
];

#[derive(Debug, Clone)]
pub struct VmTypeSpec {
    pub product_name: &'static str,
    pub description: &'static str,
    pub cpu_cores: i64,
    pub cpu_type: &'static str,
    pub memory_gb: i64,
    pub disk_gb: i64,
    pub num_gpu: i64,
    pub gpu_type: &'static str,
    /// Product group for image compatibility (`a100`, `h100`, ... or `cpu`).
    pub group: &'static str,
}

// One row of the table below; named fields would triple its length.
#[allow(clippy::too_many_arguments)]
const fn t(
    product_name: &'static str,
    description: &'static str,
    cpu_cores: i64,
    cpu_type: &'static str,
    memory_gb: i64,
    disk_gb: i64,
    num_gpu: i64,
    gpu_type: &'static str,
    group: &'static str,
) -> VmTypeSpec {
    VmTypeSpec {
        product_name,
        description,
        cpu_cores,
        cpu_type,
        memory_gb,
        disk_gb,
        num_gpu,
        gpu_type,
        group,
    }
}

pub const VM_TYPES: &[VmTypeSpec] = &[
    t(
        "c1a.1x",
        "1 vCPU AMD EPYC, 2 GiB",
        1,
        "amd",
        2,
        0,
        0,
        "",
        "cpu",
    ),
    t("c1a.2x", "2 vCPU AMD EPYC", 2, "amd", 8, 0, 0, "", "cpu"),
    t("c1a.4x", "4 vCPU AMD EPYC", 4, "amd", 16, 0, 0, "", "cpu"),
    t("c1a.8x", "8 vCPU AMD EPYC", 8, "amd", 32, 0, 0, "", "cpu"),
    t(
        "c1a.16x",
        "16 vCPU AMD EPYC",
        16,
        "amd",
        64,
        0,
        0,
        "",
        "cpu",
    ),
    t(
        "s1a.80x",
        "80 vCPU AMD EPYC, storage-optimised",
        80,
        "amd",
        640,
        7680,
        0,
        "",
        "cpu",
    ),
    t(
        "a40.1x",
        "1x Nvidia A40 48GB",
        6,
        "intel",
        60,
        0,
        1,
        "A40-48GB",
        "a40",
    ),
    t(
        "a100-80gb.8x",
        "8x Nvidia A100 80GB",
        96,
        "amd",
        960,
        7680,
        8,
        "A100-80GB",
        "a100",
    ),
    t(
        "l40s-48gb.8x",
        "8x Nvidia L40S 48GB",
        128,
        "amd",
        1472,
        7680,
        8,
        "L40S-48GB",
        "l40s",
    ),
    t(
        "h100-80gb-sxm-ib.8x",
        "8x Nvidia H100 80GB SXM InfiniBand",
        176,
        "intel",
        1440,
        7680,
        8,
        "H100-80GB-SXM",
        "h100",
    ),
    t(
        "gh200.1x",
        "1x Nvidia GH200 (ARM)",
        72,
        "arm",
        480,
        4000,
        1,
        "GH200",
        "gh200",
    ),
];

pub fn vm_type(name: &str) -> Option<&'static VmTypeSpec> {
    VM_TYPES.iter().find(|t| t.product_name == name)
}

pub fn vm_type_json(t: &VmTypeSpec) -> Value {
    json!({
        "product_name": t.product_name,
        "description": t.description,
        "cpu_cores": t.cpu_cores,
        "cpu_type": t.cpu_type,
        "memory_gb": t.memory_gb,
        "memory_type": "RAM",
        "disk_gb": t.disk_gb,
        "disk_type": "SSD",
        "num_gpu": t.num_gpu,
        "gpu_type": t.gpu_type,
    })
}

/// Default stock: plenty of CPU types, a little of each GPU type, and none of H100 in Iceland so
/// that out-of-stock can be exercised without configuration.
pub fn default_quantity(location: &str, t: &VmTypeSpec) -> u32 {
    match (location, t.group) {
        ("eu-iceland1-a", "h100") => 0,
        (_, "cpu") => 20_000,
        (_, "gh200") => 4,
        _ => 32,
    }
}

#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub tags: &'static [&'static str],
    pub description: &'static str,
    /// Product groups the image suits; empty for all.
    pub groups: &'static [&'static str],
}

pub const IMAGES: &[ImageSpec] = &[
    ImageSpec {
        id: "09ae8411-0fbb-411c-898c-2b8f19622ae1",
        name: "ubuntu22.04",
        tags: &["latest", "2024-05"],
        description: "Ubuntu 22.04",
        groups: &[],
    },
    ImageSpec {
        id: "1c8f6e2a-3b4d-4f5e-8a7b-9c0d1e2f3a4b",
        name: "ubuntu24.04",
        tags: &["latest"],
        description: "Ubuntu 24.04",
        groups: &[],
    },
    ImageSpec {
        id: "7d3c1b2a-0f9e-4d8c-b7a6-958473625140",
        name: "ubuntu22.04-nvidia-sxm-docker",
        tags: &["latest"],
        description: "Ubuntu 22.04 with NVIDIA drivers and Docker",
        groups: &["a100", "h100", "l40s", "a40"],
    },
];

pub fn image_json(i: &ImageSpec) -> Value {
    json!({
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "created_at": "2024-05-01T12:00:00Z",
        "locations": LOCATIONS,
        "tags": i.tags,
    })
}

/// Whether `name:tag` (tag optional, `latest` by default) names a public image.
pub fn image_exists(reference: &str) -> bool {
    let (name, tag) = reference.split_once(':').unwrap_or((reference, "latest"));
    IMAGES
        .iter()
        .any(|i| i.name == name && i.tags.contains(&tag))
}

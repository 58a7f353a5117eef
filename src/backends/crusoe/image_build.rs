//! `crusoe-ial image build`: a project's iPXE boot image for one location, made once. A small
//! builder VM boots the public image and runs the `ipxe` mode's conversion of its own boot disk,
//! ending in a power-off instead of a reboot; its OS disk, which then holds only Cycle's iPXE, is
//! made a custom image (as modal-labs/packer-plugin-crusoe makes images: stop, wait for
//! `STATE_SHUTOFF`, post `{"DiskID", name}`, follow the custom-images operation), and the builder
//! is deleted whatever happened. Servers of the `ipxe-image` mode are created from that image.

use std::time::{Duration, Instant};

use super::boot::{Finish, IpxeImage};
use super::boot_images::{self, builder_name, image_name};
use super::catalog::{is_compatible, Catalog};
use super::create::{create_once, Created};
use super::lookup::vms_named;
use super::settings::CrusoeSettings;
use crusoe_sdk::types::{
    CreateCustomImageRequest, CreateVmRequest, Image, IpAddressesRequest, NetworkInterfaceRequest,
    PublicIpv4Request, Vm, VmState,
};
use crusoe_sdk::{CrusoeError, ProjectClient};

/// What to build and how long each part may take.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    pub location: String,
    /// Cycle's iPXE image; its SHA-256 must be known, it names the boot image.
    pub ipxe: IpxeImage,
    /// The builder's VM type; the cheapest CPU type in stock when unset.
    pub builder_type: Option<String>,
    /// The builder's subnet; the location's default subnet when unset.
    pub subnet: Option<String>,
    pub public_image: String,
    pub ssh_public_key: String,
    /// How long the builder may take to convert its disk and power off.
    pub shutoff_deadline: Duration,
    /// How long each Crusoe operation may take: the builder's creation and deletion, the image.
    pub operation_timeout: Duration,
    /// How often the builder's state is read, at most (reads start at a quarter second).
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Built {
    /// The image was there already: nothing was made.
    Found(Image),
    Made(Image),
}

/// Why a build stopped, in one line for the operator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BuildFailed(pub String);

fn failed(doing: &str, e: CrusoeError) -> BuildFailed {
    BuildFailed(format!("{doing}: {e}"))
}

/// Builds the image unless it exists; the builder VM is deleted on every path out of here
/// (an interrupted process leaves it to `crusoe-ial gc`, which finds it by name).
pub async fn build(
    project: &ProjectClient,
    settings: &CrusoeSettings,
    spec: &BuildSpec,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Built, BuildFailed> {
    let sha256 = spec.ipxe.sha256.clone().ok_or_else(|| {
        BuildFailed("the iPXE image's SHA-256 is needed: it names the boot image".into())
    })?;
    let name = image_name(&sha256, &spec.location);
    if let Some(image) = boot_images::find(project, &name)
        .await
        .map_err(|e| failed("listing the project's custom images", e))?
    {
        return Ok(Built::Found(image));
    }
    let builder = builder_name(&sha256, &spec.location);
    // A builder of this name is left from an interrupted build: start afresh.
    remove_builder(project, &builder, spec).await?;
    let made = make(project, settings, spec, &name, &builder, progress).await;
    let removed = remove_builder(project, &builder, spec).await;
    match (made, removed) {
        (Ok(image), Ok(())) => Ok(Built::Made(image)),
        (Ok(_), Err(e)) => Err(BuildFailed(format!(
            "the image {name} was made, but {e}; `crusoe-ial gc --apply` deletes the builder"
        ))),
        (Err(e), Ok(())) => Err(BuildFailed(format!("{e}; the builder was deleted"))),
        (Err(e), Err(cleanup)) => Err(BuildFailed(format!(
            "{e}; and {cleanup}: `crusoe-ial gc --apply` deletes the builder"
        ))),
    }
}

async fn make(
    project: &ProjectClient,
    settings: &CrusoeSettings,
    spec: &BuildSpec,
    name: &str,
    builder: &str,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Image, BuildFailed> {
    let vm_type = match &spec.builder_type {
        Some(t) => t.clone(),
        None => cheapest_cpu_type(project, settings, &spec.location).await?,
    };
    let subnet = match &spec.subnet {
        Some(s) => s.clone(),
        None => default_subnet(project, &spec.location).await?,
    };
    let script = spec
        .ipxe
        .script(Finish::PowerOff)
        .replace("{{server_name}}", builder);
    let request = CreateVmRequest {
        name: builder.to_string(),
        vm_type: vm_type.clone(),
        location: spec.location.clone(),
        ssh_public_key: spec.ssh_public_key.clone(),
        image: Some(spec.public_image.clone()),
        startup_script: Some(script),
        install_crusoe_watch_agent: Some(false),
        network_interfaces: Some(vec![NetworkInterfaceRequest {
            subnet: Some(subnet),
            // The builder downloads Cycle's iPXE image.
            ips: vec![IpAddressesRequest {
                public_ipv4: PublicIpv4Request {
                    ip_type: "dynamic".into(),
                    id: None,
                },
            }],
        }]),
        ..Default::default()
    };
    progress(format!(
        "starting builder {builder} ({vm_type} in {})",
        spec.location
    ));
    let created = create_once(
        || project.vms().create(&request),
        || async {
            let vms = vms_named(project, builder).await?;
            Ok(vms.into_iter().next())
        },
    )
    .await
    .map_err(|e| failed(&format!("creating builder {builder}"), e))?;
    if let Created::Accepted(op) = created {
        op.wait(spec.operation_timeout)
            .await
            .map_err(|e| failed(&format!("creating builder {builder}"), e))?;
    }

    let vm = wait_for_shutoff(project, builder, spec, progress).await?;
    let disk = vm
        .disks
        .iter()
        .find(|d| d.attachment_type == "os")
        .ok_or_else(|| BuildFailed(format!("builder {builder} has no OS disk")))?;
    progress(format!("making image {name} of disk {}", disk.id));
    let request = CreateCustomImageRequest {
        disk_id: disk.id.clone(),
        name: name.to_string(),
        description: Some(format!(
            "crusoe-ial: a boot disk holding only Cycle's iPXE, {} (sha256 {})",
            spec.ipxe.url,
            spec.ipxe.sha256.as_deref().unwrap_or_default()
        )),
        tags: None,
    };
    // The packer plugin waits 30 s after STATE_SHUTOFF before imaging: a disk Crusoe still holds
    // answers 409, so that is retried for a while rather than failing the build.
    let since = Instant::now();
    let op = loop {
        let created = create_once(
            || project.custom_images().create(&request),
            || boot_images::find(project, name),
        )
        .await;
        match created {
            Err(CrusoeError::Conflict(api)) if since.elapsed() < spec.operation_timeout => {
                // The disk may be busy being imaged by an earlier attempt: look before resending.
                if let Some(image) = boot_images::find(project, name)
                    .await
                    .map_err(|e| failed(&format!("looking up image {name}"), e))?
                {
                    return Ok(image);
                }
                progress(format!(
                    "Crusoe cannot image the disk yet ({}); trying again",
                    api.message
                ));
                tokio::time::sleep(spec.poll_interval).await;
            }
            Ok(Created::Accepted(op)) => break op,
            Ok(Created::Found(image)) => return Ok(image),
            Err(e) => return Err(failed(&format!("making image {name}"), e)),
        }
    };
    op.wait(spec.operation_timeout)
        .await
        .map_err(|e| {
            BuildFailed(format!(
                "making image {name}: {e} (it may still appear: `crusoe-ial image list` shows it, `crusoe-ial image delete {name}` removes it)"
            ))
        })?;
    let image = boot_images::find(project, name)
        .await
        .map_err(|e| failed(&format!("reading image {name}"), e))?
        .ok_or_else(|| {
            BuildFailed(format!(
                "Crusoe finished making image {name} but does not list it"
            ))
        })?;
    // A create retried after a lost answer, or a build that raced this one, can make a second
    // image of the name: the oldest stays, as every replica picks it.
    if let Ok(all) = project.custom_images().list().await {
        for younger in all.iter().filter(|i| i.name == name && i.id != image.id) {
            if let Err(e) = project.custom_images().delete(&younger.id).await {
                progress(format!(
                    "could not delete the duplicate image {}: {e}",
                    younger.id
                ));
            }
        }
    }
    Ok(image)
}

/// Waits, bounded, for the builder's guest to convert its disk and power off.
async fn wait_for_shutoff(
    project: &ProjectClient,
    builder: &str,
    spec: &BuildSpec,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Vm, BuildFailed> {
    let started = Instant::now();
    let mut last_said = None::<Instant>;
    let mut pause = spec.poll_interval.min(Duration::from_millis(250));
    loop {
        let vm = vms_named(project, builder)
            .await
            .map_err(|e| failed(&format!("reading builder {builder}"), e))?
            .into_iter()
            .next()
            .ok_or_else(|| BuildFailed(format!("builder {builder} disappeared")))?;
        match vm.state {
            VmState::Shutoff | VmState::Shutdown | VmState::Stopped => return Ok(vm),
            VmState::Deleting | VmState::Deleted => {
                return Err(BuildFailed(format!("builder {builder} is being deleted")))
            }
            _ => {}
        }
        let waited = started.elapsed();
        if waited >= spec.shutoff_deadline {
            return Err(BuildFailed(format!(
                "builder {builder} did not power off within {}s (it is {}): its startup script failed or is slow; its serial console says why (`crusoe compute vms serial-console --name {builder}`)",
                spec.shutoff_deadline.as_secs(),
                vm.state.wire_name()
            )));
        }
        if last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(15)) {
            progress(format!(
                "waiting for {builder} to write Cycle's iPXE to its disk and power off: {}, {}s of at most {}s",
                vm.state.wire_name(),
                waited.as_secs(),
                spec.shutoff_deadline.as_secs()
            ));
            last_said = Some(Instant::now());
        }
        tokio::time::sleep(pause.min(spec.shutoff_deadline - waited)).await;
        pause = (pause * 2).min(spec.poll_interval);
    }
}

/// After an interrupted build: deletes its builder. A create cut off in flight may still be
/// carried out after a first look finds nothing, so it looks twice, a moment apart.
pub async fn clean_up(project: &ProjectClient, spec: &BuildSpec) -> Result<(), BuildFailed> {
    let sha256 = spec.ipxe.sha256.as_deref().unwrap_or_default();
    if sha256.len() < 12 {
        return Ok(());
    }
    let builder = builder_name(sha256, &spec.location);
    remove_builder(project, &builder, spec).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    remove_builder(project, &builder, spec).await
}

/// Deletes every VM of the builder's name and waits for them to go.
async fn remove_builder(
    project: &ProjectClient,
    builder: &str,
    spec: &BuildSpec,
) -> Result<(), BuildFailed> {
    let cannot = |e| failed(&format!("deleting builder {builder}"), e);
    let started = Instant::now();
    loop {
        let vms = vms_named(project, builder).await.map_err(cannot)?;
        if vms.is_empty() {
            return Ok(());
        }
        let deadline = started + spec.operation_timeout;
        for vm in vms.iter().filter(|v| !v.state.is_terminal()) {
            match super::vm_delete::delete_vm(project, &vm.id, deadline).await {
                Ok(Some(op)) => {
                    op.wait(spec.operation_timeout).await.map_err(cannot)?;
                }
                // Gone meanwhile, or still busy at the deadline: look again.
                Ok(None) | Err(CrusoeError::Conflict(_)) | Err(CrusoeError::NotFound(_)) => {}
                Err(e) => return Err(cannot(e)),
            }
        }
        if started.elapsed() >= spec.operation_timeout {
            return Err(BuildFailed(format!(
                "builder {builder} was not deleted within {}s",
                spec.operation_timeout.as_secs()
            )));
        }
        tokio::time::sleep(spec.poll_interval).await;
    }
}

/// The cheapest x86 CPU type in stock in the location (by the price table, then by size).
async fn cheapest_cpu_type(
    project: &ProjectClient,
    settings: &CrusoeSettings,
    location: &str,
) -> Result<String, BuildFailed> {
    let types = project
        .vm_types()
        .await
        .map_err(|e| failed("listing VM types", e))?;
    let stock = project
        .client()
        .list_capacities(&[], &[location.to_string()])
        .await
        .map_err(|e| failed("listing stock", e))?;
    let catalog = Catalog::new(settings);
    types
        .iter()
        .filter(|t| t.num_gpu == 0 && is_compatible(t))
        .filter(|t| {
            stock.iter().any(|c| {
                c.location == location
                    && c.product_name.as_deref() == Some(t.product_name.as_str())
                    && c.quantity > 0
            })
        })
        .min_by_key(|t| {
            let price = catalog
                .price(&t.product_name)
                .map_or(i64::MAX, |usd| crate::core::catalogue::pricing(usd).hourly);
            (price, t.cpu_cores, t.memory_gb)
        })
        .map(|t| t.product_name.clone())
        .ok_or_else(|| {
            BuildFailed(format!(
                "no CPU VM type is in stock in {location}; choose one with --builder-type"
            ))
        })
}

/// The location's default subnet (Crusoe makes one per location), or its only one.
async fn default_subnet(project: &ProjectClient, location: &str) -> Result<String, BuildFailed> {
    let subnets = project
        .vpc_subnets()
        .list()
        .await
        .map_err(|e| failed("listing VPC subnets", e))?;
    let here: Vec<_> = subnets.iter().filter(|s| s.location == location).collect();
    here.iter()
        .find(|s| s.name.starts_with("default"))
        .or(here.first())
        .map(|s| s.id.clone())
        .ok_or_else(|| {
            BuildFailed(format!(
                "project {} has no VPC subnet in {location}; make one or choose one with --subnet",
                project.id()
            ))
        })
}

/// The boot images of a project, oldest first.
pub async fn list(project: &ProjectClient) -> Result<Vec<Image>, BuildFailed> {
    let mut images: Vec<Image> = project
        .custom_images()
        .list()
        .await
        .map_err(|e| failed("listing the project's custom images", e))?
        .into_iter()
        .filter(|i| i.name.starts_with(boot_images::IMAGE_PREFIX))
        .collect();
    crate::core::by_name::oldest_first(&mut images);
    Ok(images)
}

/// Deletes every boot image of a name; how many went.
pub async fn delete(
    project: &ProjectClient,
    name: &str,
    timeout: Duration,
) -> Result<usize, BuildFailed> {
    if !name.starts_with(boot_images::IMAGE_PREFIX) {
        return Err(BuildFailed(format!(
            "{name} is not a boot image crusoe-ial made (those are named {}...)",
            boot_images::IMAGE_PREFIX
        )));
    }
    let mut deleted = 0;
    for image in list(project).await?.iter().filter(|i| i.name == name) {
        match project.custom_images().delete(&image.id).await {
            Ok(op) => {
                op.wait(timeout)
                    .await
                    .map_err(|e| failed(&format!("deleting image {name}"), e))?;
                deleted += 1;
            }
            Err(CrusoeError::NotFound(_)) => {}
            Err(e) => return Err(failed(&format!("deleting image {name}"), e)),
        }
    }
    Ok(deleted)
}

//! `crusoe-ial image build|list|delete`: the iPXE boot images of boot mode `ipxe-image`, in the
//! project of the configured credentials (one project at a time, like `gc`).

use std::time::Duration;

use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};

use crate::backends::crusoe::boot_images::image_name;
use crate::backends::crusoe::image_build::{self, BuildSpec, Built};
use crate::backends::crusoe::IpxeImage;
use crate::config::Config;
use crusoe_sdk::ProjectClient;

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Make the boot image for one location, unless it exists (about a VM-hour of a small CPU type).
    Build(BuildArgs),
    /// List the project's boot images.
    List,
    /// Delete the boot images of a name (servers already created from one keep their disks).
    Delete {
        /// The image's name, as `image list` shows it.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The Crusoe location, e.g. us-east1-a.
    #[arg(long)]
    pub location: String,
    /// Cycle's iPXE image (.iso or .efi); default: bridge.boot.ipxe_url.
    #[arg(long, value_name = "URL")]
    pub ipxe_url: Option<String>,
    /// Its SHA-256; default: bridge.boot.ipxe_sha256, else computed by downloading it.
    #[arg(long, value_name = "HEX")]
    pub ipxe_sha256: Option<String>,
    /// The builder's VM type; default: the cheapest CPU type in stock there.
    #[arg(long, value_name = "TYPE")]
    pub builder_type: Option<String>,
    /// The builder's VPC subnet; default: the location's default subnet.
    #[arg(long, value_name = "ID")]
    pub subnet: Option<String>,
    /// How long the builder may take to convert its disk and power off, in seconds.
    #[arg(long, default_value_t = 1200)]
    pub timeout_secs: u64,
}

/// The image's SHA-256, computed the way a server checks it: of the bytes the URL serves.
async fn download_sha256(url: &str) -> Result<(usize, String), String> {
    let bytes = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("downloading {url}: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("downloading {url}: {e}"))?;
    let hex = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((bytes.len(), hex))
}

/// Runs an image command; the lines to print at the end, or one line saying why not. Progress
/// lines are printed as the work goes.
pub async fn run(config: &Config, command: ImageCommand) -> Result<Vec<String>, String> {
    let project = config
        .crusoe
        .project_client("images belong to one project: use that project's key")?;
    match command {
        ImageCommand::List => {
            let images = image_build::list(&project)
                .await
                .map_err(|e| e.to_string())?;
            let mut lines: Vec<String> = images
                .iter()
                .map(|i| {
                    format!(
                        "  {}  {}  in {}  made {}",
                        i.name,
                        i.id,
                        i.locations.join(", "),
                        i.created_at
                    )
                })
                .collect();
            lines.push(format!(
                "{} boot images in project {}",
                images.len(),
                project.id()
            ));
            Ok(lines)
        }
        ImageCommand::Delete { name } => {
            let deleted = image_build::delete(&project, &name, Duration::from_secs(300))
                .await
                .map_err(|e| e.to_string())?;
            Ok(vec![format!(
                "deleted {deleted} image(s) named {name} in project {}",
                project.id()
            )])
        }
        ImageCommand::Build(args) => build(config, &project, args).await,
    }
}

async fn build(
    config: &Config,
    project: &ProjectClient,
    args: BuildArgs,
) -> Result<Vec<String>, String> {
    let boot = &config.bridge.boot;
    let url = args
        .ipxe_url
        .or_else(|| boot.ipxe_url.clone())
        .ok_or("which iPXE image? set --ipxe-url or bridge.boot.ipxe_url (Cycle's .iso or .efi)")?;
    // Checked before anything is fetched: a URL with credentials is refused, not downloaded.
    IpxeImage::new(&url, None).map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    let sha256 = match args.ipxe_sha256.or_else(|| boot.ipxe_sha256.clone()) {
        Some(sha) => sha,
        None => {
            let (size, sha) = download_sha256(&url).await?;
            println!("downloaded {url}: {size} bytes, sha256 {sha}");
            lines.push(format!(
                "pin it: bridge.boot.ipxe_sha256 = \"{sha}\" (boot mode ipxe-image finds the image by it)"
            ));
            sha
        }
    };
    let ipxe = IpxeImage::new(&url, Some(&sha256)).map_err(|e| e.to_string())?;
    let sha256 = ipxe.sha256.clone().unwrap_or(sha256);
    let spec = BuildSpec {
        location: args.location.clone(),
        builder_type: args.builder_type,
        subnet: args.subnet,
        public_image: boot.image.clone(),
        ssh_public_key: crate::backends::crusoe::generated_ssh_key(),
        shutoff_deadline: Duration::from_secs(args.timeout_secs),
        operation_timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(5),
        ipxe,
    };
    let mut say = |line: String| println!("{line}");
    let settings = config.bridge.crusoe();
    let built = tokio::select! {
        built = image_build::build(project, &settings, &spec, &mut say) => built,
        () = crate::shutdown::signal() => {
            println!("interrupted: deleting the builder");
            return Err(match image_build::clean_up(project, &spec).await {
                Ok(()) => "interrupted; the builder was deleted".to_string(),
                Err(e) => format!("interrupted, and {e}: `crusoe-ial gc --apply` deletes the builder"),
            });
        }
    }
    .map_err(|e| e.to_string())?;
    let name = image_name(&sha256, &args.location);
    lines.push(match built {
        Built::Found(image) => format!(
            "{name} exists already ({}, made {}): nothing to do",
            image.id, image.created_at
        ),
        Built::Made(image) => format!("made {name} ({}) in {}", image.id, args.location),
    });
    Ok(lines)
}

//! Images a fleet needs, made present without a registry.
//!
//! Chaff's own image ([`chaff_sensor_image::IMAGE`]) is built locally from the static sensor
//! binary embedded in this build, and rebuilt when the image on the machine was built from
//! another binary (its [`chaff_sensor_image::SHA_LABEL`] differs). Every other image must be
//! on the machine already: Chaff never pulls, so a missing one is
//! [`DockerError::ImageMissing`] naming it, before any container is created.

use std::collections::BTreeSet;

use crate::{DockerApi, DockerError};

/// What [`ensure_images`] did about Chaff's own image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SensorImage {
    /// Not needed by these images.
    NotNeeded,
    /// Present and built from this binary.
    UpToDate,
    /// Built (or rebuilt) now.
    Built,
}

/// Makes sure every image in `images` is on the machine. Checks all of them before building
/// anything; the first missing foreign image is the error.
pub async fn ensure_images<'a, D: DockerApi>(
    docker: &D,
    images: impl IntoIterator<Item = &'a str>,
) -> Result<SensorImage, DockerError> {
    let wanted: BTreeSet<&str> = images.into_iter().collect();
    for image in wanted.iter().filter(|i| **i != chaff_sensor_image::IMAGE) {
        if docker.image_labels(image).await?.is_none() {
            return Err(DockerError::ImageMissing { image: (*image).to_owned() });
        }
    }
    if !wanted.contains(chaff_sensor_image::IMAGE) {
        return Ok(SensorImage::NotNeeded);
    }
    ensure_sensor_image(docker).await
}

/// Builds Chaff's own image unless the one on the machine comes from this very binary.
pub async fn ensure_sensor_image<D: DockerApi>(docker: &D) -> Result<SensorImage, DockerError> {
    let current = docker.image_labels(chaff_sensor_image::IMAGE).await?;
    let built_from = current.as_ref().and_then(|labels| labels.get(chaff_sensor_image::SHA_LABEL));
    if built_from.map(String::as_str) == Some(chaff_sensor_image::binary_sha256()) {
        return Ok(SensorImage::UpToDate);
    }
    tracing::info!(image = chaff_sensor_image::IMAGE, "building Chaff's sensor image locally");
    docker.build_image(chaff_sensor_image::IMAGE, chaff_sensor_image::build_context()).await?;
    Ok(SensorImage::Built)
}

//! CV files: PDF checks, their S3 keys, and the store that puts, removes and presigns them.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use uuid::Uuid;

use crate::ApiError;

/// 10 MiB: exactly this many bytes are accepted, one more is refused.
pub const MAX_CV_BYTES: usize = 10 * 1024 * 1024;
pub const PDF_SIGNATURE: &[u8] = b"%PDF-";
/// How long presigned download links stay valid.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub fn key(org: Uuid, dossier: Uuid) -> String {
    format!("{org}/dossiers/{dossier}/cv.pdf")
}

/// Size first (413), then the PDF signature (415): the content type alone proves nothing.
pub fn check(bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.len() > MAX_CV_BYTES {
        return Err(too_large());
    }
    if !bytes.starts_with(PDF_SIGNATURE) {
        return Err(ApiError::UnsupportedMediaType(
            "Field `cv` must be a PDF file (it must start with %PDF-).".into(),
        ));
    }
    Ok(())
}

pub fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "Field `cv` is larger than {MAX_CV_BYTES} bytes (10 MiB)."
    ))
}

/// Where a presigned upload lands until `complete` checks it. Kept apart from the CVs so
/// that a bucket lifecycle rule on `uploads/` can expire abandoned uploads.
pub fn staging_key(org: Uuid, dossier: Uuid, upload: Uuid) -> String {
    format!("uploads/{org}/{dossier}/{upload}.pdf")
}

/// Where everything of a dossier's CV lives: the CV itself and its uploads.
fn dossier_prefixes(org: Uuid, dossier: Uuid) -> [String; 2] {
    [
        format!("{org}/dossiers/{dossier}/"),
        format!("uploads/{org}/{dossier}/"),
    ]
}

/// A presigned PUT: the client sends exactly these headers and `size` bytes.
#[derive(Debug, serde::Serialize)]
pub struct PresignedUpload {
    pub upload_id: Uuid,
    pub method: &'static str,
    pub url: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: String,
}

fn s3_error<E: std::error::Error>(what: &'static str) -> impl FnOnce(E) -> ApiError {
    move |err| {
        ApiError::internal(format!(
            "{what}: {}",
            aws_sdk_s3::error::DisplayErrorContext(err)
        ))
    }
}

/// An upload as [`CvStore::inspect`] checked it: the object version (or ETag) that passed.
#[derive(Clone, Debug)]
pub struct CheckedUpload {
    staging: String,
    version_id: Option<String>,
    e_tag: Option<String>,
}

#[derive(Clone)]
pub struct CvStore {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl CvStore {
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/pdf")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(s3_error("storing CV"))
    }

    pub async fn remove(&self, key: &str) -> Result<(), ApiError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(s3_error("removing CV"))
    }

    /// A 15-minute PUT URL for a PDF of exactly `size` bytes: the signature covers the
    /// length and the content type, so S3 refuses any other upload.
    pub async fn upload_link(
        &self,
        key: &str,
        upload_id: Uuid,
        size: usize,
        now: time::OffsetDateTime,
    ) -> Result<PresignedUpload, ApiError> {
        let config = signed_at(now)?;
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/pdf")
            .content_length(size as i64)
            .presigned(config)
            .await
            .map_err(s3_error("presigning"))?;
        let headers = [
            ("Content-Type".to_string(), "application/pdf".to_string()),
            ("Content-Length".to_string(), size.to_string()),
        ]
        .into();
        Ok(PresignedUpload {
            upload_id,
            method: "PUT",
            url: request.uri().to_string(),
            headers,
            expires_at: crate::clock::format(now + LINK_LIFETIME),
        })
    }

    /// Deletes every version of a dossier's CV and of its uploads, delete markers
    /// included, so that nothing of them is left in the versioned bucket. Returns how many
    /// versions it deleted; running it again deletes nothing more.
    pub async fn erase(&self, org: Uuid, dossier: Uuid) -> Result<u64, ApiError> {
        let mut erased = 0;
        for prefix in dossier_prefixes(org, dossier) {
            // Listed again from the start after each round: what was deleted is gone.
            loop {
                let page = self
                    .s3
                    .list_object_versions()
                    .bucket(&self.bucket)
                    .prefix(&prefix)
                    .send()
                    .await
                    .map_err(s3_error("listing CV versions"))?;
                let versions: Vec<(String, String)> =
                    page.versions()
                        .iter()
                        .filter_map(|v| Some((v.key()?.to_string(), v.version_id()?.to_string())))
                        .chain(page.delete_markers().iter().filter_map(|m| {
                            Some((m.key()?.to_string(), m.version_id()?.to_string()))
                        }))
                        .collect();
                if versions.is_empty() {
                    break;
                }
                for (key, version) in versions {
                    self.s3
                        .delete_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .version_id(version)
                        .send()
                        .await
                        .map_err(s3_error("erasing a CV version"))?;
                    erased += 1;
                }
            }
        }
        Ok(erased)
    }

    /// Moves a finished upload to the CV's key after checking it is a PDF of at most
    /// 10 MiB. A failed check removes the upload.
    pub async fn promote(&self, staging: &str, key: &str) -> Result<(), ApiError> {
        let checked = self.inspect(staging).await?;
        self.attach(&checked, key).await
    }

    /// Checks a finished upload (its size, then its first bytes, both of one object
    /// version) and names exactly what was checked. A failed check removes the upload.
    pub async fn inspect(&self, staging: &str) -> Result<CheckedUpload, ApiError> {
        let head = match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(staging)
            .send()
            .await
        {
            Ok(head) => head,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Err(ApiError::field(
                    "upload_id",
                    "names no finished upload; PUT the file to the upload URL first.",
                ))
            }
            Err(err) => return Err(s3_error("checking upload")(err)),
        };
        let checked = CheckedUpload {
            staging: staging.to_string(),
            version_id: head.version_id().filter(|v| *v != "null").map(String::from),
            e_tag: head.e_tag().map(String::from),
        };
        let size = head.content_length().unwrap_or(0).max(0) as usize;
        let first = if size == 0 {
            Vec::new()
        } else {
            let out = self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(staging)
                .set_version_id(checked.version_id.clone())
                .set_if_match(checked.e_tag.clone())
                .range(format!("bytes=0-{}", PDF_SIGNATURE.len() - 1))
                .send()
                .await
                .map_err(s3_error("reading upload"))?;
            out.body
                .collect()
                .await
                .map_err(ApiError::internal)?
                .into_bytes()
                .to_vec()
        };
        let verdict = if size > MAX_CV_BYTES {
            Err(too_large())
        } else {
            check(&first)
        };
        if let Err(err) = verdict {
            self.remove(staging).await?;
            return Err(err);
        }
        Ok(checked)
    }

    /// Copies exactly the object [`CvStore::inspect`] checked to the CV's key, then removes
    /// the upload. The upload URL stays valid after the check, so a file PUT in between is
    /// a newer version (or, in a bucket without versioning, another ETag): the copy names
    /// the checked version, or requires the checked ETag, and never takes the newer file.
    pub async fn attach(&self, checked: &CheckedUpload, key: &str) -> Result<(), ApiError> {
        let source = match &checked.version_id {
            Some(version) => format!("{}/{}?versionId={version}", self.bucket, checked.staging),
            None => format!("{}/{}", self.bucket, checked.staging),
        };
        let copied = self
            .s3
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(source)
            .set_copy_source_if_match(checked.e_tag.clone())
            .key(key)
            .content_type("application/pdf")
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .send()
            .await;
        if let Err(err) = copied {
            let changed = err
                .raw_response()
                .is_some_and(|raw| raw.status().as_u16() == 412);
            if changed {
                return Err(ApiError::field(
                    "upload_id",
                    "names an upload that changed while it was being checked; PUT the file again and complete again.",
                ));
            }
            return Err(s3_error("attaching upload")(err));
        }
        self.remove(&checked.staging).await
    }

    pub async fn download_link(
        &self,
        key: &str,
        now: time::OffsetDateTime,
    ) -> Result<String, ApiError> {
        let config = signed_at(now)?;
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type("application/pdf")
            .presigned(config)
            .await
            .map_err(s3_error("presigning"))?;
        Ok(request.uri().to_string())
    }
}

/// A presigned link signed at `now`, valid for [`LINK_LIFETIME`] from then.
fn signed_at(now: time::OffsetDateTime) -> Result<PresigningConfig, ApiError> {
    PresigningConfig::builder()
        .start_time(now.into())
        .expires_in(LINK_LIFETIME)
        .build()
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_rules() {
        assert!(check(b"%PDF-1.7 rest").is_ok());
        assert_eq!(
            check(b"GIF89a").unwrap_err().code(),
            "unsupported_media_type"
        );
        let mut exact = b"%PDF-".to_vec();
        exact.resize(MAX_CV_BYTES, b'x');
        assert!(check(&exact).is_ok());
        exact.push(b'x');
        assert_eq!(check(&exact).unwrap_err().code(), "payload_too_large");
    }

    #[test]
    fn keys_follow_the_spec() {
        let (org, id) = (Uuid::nil(), Uuid::max());
        assert_eq!(key(org, id), format!("{org}/dossiers/{id}/cv.pdf"));
    }
}

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
            .map_err(|e| {
                ApiError::internal(format!(
                    "storing CV: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })
    }

    pub async fn remove(&self, key: &str) -> Result<(), ApiError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                ApiError::internal(format!(
                    "removing CV: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })
    }

    pub async fn download_link(&self, key: &str) -> Result<String, ApiError> {
        let config = PresigningConfig::expires_in(LINK_LIFETIME).map_err(ApiError::internal)?;
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type("application/pdf")
            .presigned(config)
            .await
            .map_err(|e| {
                ApiError::internal(format!(
                    "presigning: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })?;
        Ok(request.uri().to_string())
    }
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

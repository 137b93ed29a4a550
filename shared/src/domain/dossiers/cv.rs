//! A dossier's CV: stored in S3 beside the dossier's transaction, which S3 cannot join. The
//! create saga stores the CV first and removes it again if the dossier's write fails, so a
//! CV never outlives a dossier that was not written; a CV stored for an existing dossier is
//! recorded on it afterwards.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::cv::{self, CvStore};
use crate::table::store::Db;
use crate::ApiError;

use super::{attach_cv, commit, Dossier, Prepared};

/// Stores the CV, then writes the dossier naming it. If the CV cannot be stored nothing is
/// written; if the write fails the stored CV is removed again, so no orphan stays behind.
pub async fn create_with_cv(
    db: &Db,
    cvs: &CvStore,
    org: Uuid,
    prepared: Prepared,
    bytes: Vec<u8>,
) -> Result<Dossier, ApiError> {
    let key = cv::key(org, prepared.id());
    cvs.put(&key, bytes).await?;
    match commit(db, org, prepared, Some(key.clone())).await {
        Ok(dossier) => Ok(dossier),
        Err(err) => {
            if let Err(cleanup) = cvs.remove(&key).await {
                tracing::error!(error = %cleanup, key = %key, "could not roll back a stored CV");
            }
            Err(err)
        }
    }
}

/// Stores a checked CV as the existing dossier's (replacing any before it), then records
/// it on the dossier. A dossier deleted in between keeps nothing pointing at the file.
pub async fn replace_cv(
    db: &Db,
    cvs: &CvStore,
    org: Uuid,
    id: Uuid,
    bytes: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Dossier, ApiError> {
    super::get(db, org, id)
        .await?
        .ok_or_else(ApiError::dossier_not_found)?;
    let key = cv::key(org, id);
    cvs.put(&key, bytes).await?;
    attach_cv(db, org, id, &key, now).await
}

/// Moves a presigned upload, checked, into place as the dossier's CV and records it.
pub async fn complete_upload(
    db: &Db,
    cvs: &CvStore,
    org: Uuid,
    id: Uuid,
    upload_id: Uuid,
    now: OffsetDateTime,
) -> Result<Dossier, ApiError> {
    super::get(db, org, id)
        .await?
        .ok_or_else(ApiError::dossier_not_found)?;
    let key = cv::key(org, id);
    cvs.promote(&cv::staging_key(org, id, upload_id), &key)
        .await?;
    attach_cv(db, org, id, &key, now).await
}

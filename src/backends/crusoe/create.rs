//! Creating a resource that is found by its deterministic name, without ever making it twice
//! (design decisions 1 and 11 in ARCHITECTURE.md). The Crusoe client does not resend a create whose answer was
//! lost (`CrusoeError::OutcomeUnknown`); here the name is looked up before sending it again.

use std::future::Future;
use std::time::Duration;

use crusoe_sdk::CrusoeError;

/// What a create came to.
#[derive(Debug)]
pub enum Created<A, F> {
    /// Crusoe accepted this create.
    Accepted(A),
    /// An earlier attempt, whose answer was lost, had made it: here it is.
    Found(F),
}

/// Creates in all, the first included.
const ATTEMPTS: u32 = 3;
/// Crusoe lists a resource once it has accepted its creation; a lost answer may have been
/// carried out a moment before the lookup, so the lookup waits this long first.
const SETTLE: Duration = Duration::from_millis(500);

/// Sends `create`; when its outcome is unknown, `lookup` (by name) decides: found, it is the
/// result; not found, the create is sent again, up to [`ATTEMPTS`] times.
pub async fn create_once<A, F, C, CF, L, LF>(
    mut create: C,
    mut lookup: L,
) -> Result<Created<A, F>, CrusoeError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<A, CrusoeError>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<F>, CrusoeError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match create().await {
            Err(CrusoeError::OutcomeUnknown { operation, cause }) => {
                tokio::time::sleep(SETTLE).await;
                match lookup().await {
                    Ok(Some(found)) => {
                        tracing::info!(
                            operation,
                            "a create's answer was lost; Crusoe had carried it out"
                        );
                        return Ok(Created::Found(found));
                    }
                    Ok(None) => {}
                    // Still unknown: the caller must not act as if nothing was made.
                    Err(e) => {
                        tracing::warn!(operation, "looking up a create whose answer was lost: {e}");
                        return Err(CrusoeError::OutcomeUnknown { operation, cause });
                    }
                }
                if attempt >= ATTEMPTS {
                    return Err(CrusoeError::OutcomeUnknown { operation, cause });
                }
                tracing::warn!(
                    operation,
                    "a create's answer was lost and Crusoe lists nothing of its name: sending it again"
                );
            }
            other => return other.map(Created::Accepted),
        }
    }
}

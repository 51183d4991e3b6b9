//! The server response pipeline shared by the HTTP/1.1, HTTP/2 and HTTP/3 drivers.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;

use crate::service::Response;

/// Polls a handler's future to completion, catching a panic, and stores the response
/// in `slot`. Returns true when the handler panicked (`slot` is then `None`).
///
/// The caller creates and pins the future (`handler.call(cx)`), so the context is moved
/// once, into the handler's future, not through another async layer first; the response
/// is written straight from the future's output into `slot`: a `Response` is ~150 bytes,
/// and `FutureExt::catch_unwind` plus the `Result` and `Poll` wrappers would copy it
/// several times per request.
pub(crate) async fn poll_guarded<'a, F>(
    mut fut: std::pin::Pin<&mut F>,
    slot: &mut Option<Response<'a>>,
) -> bool
where
    F: Future<Output = Response<'a>>,
{
    std::future::poll_fn(move |task| {
        let fut = fut.as_mut();
        let slot = &mut *slot;
        // AssertUnwindSafe: after a panic the future is dropped unpolled and the slot
        // stays empty, so no broken state is observed.
        match std::panic::catch_unwind(AssertUnwindSafe(move || match fut.poll(task) {
            Poll::Ready(response) => {
                *slot = Some(response);
                true
            }
            Poll::Pending => false,
        })) {
            Ok(true) => Poll::Ready(false),
            Ok(false) => Poll::Pending,
            Err(_) => Poll::Ready(true),
        }
    })
    .await
}

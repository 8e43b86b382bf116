//! The admin API plugged into `keyway serve`'s admin listener: keyway-admin's router
//! behind keyway-server's [`keyway_server::AdminApi`] handler.

/// keyway-admin's router, plugged into the admin listener: each request gets the
/// caller's address and goes through the API; cookies are `Secure` over HTTPS.
pub(super) fn admin_api(
    store: std::sync::Arc<keyway_store::Store>,
    https: bool,
) -> keyway_server::AdminApi {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let router = keyway_admin::app(keyway_admin::AdminState::new(store, https));
    keyway_server::AdminApi(std::sync::Arc::new(
        move |request, caller: keyway_server::AdminCaller| {
            let router = router.clone();
            Box::pin(async move {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(keyway_admin::Peer {
                    address: caller.address,
                    certificate: caller.certificate,
                });
                let response = match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                response.map(|body| {
                    body.map_err(|e| Box::new(e) as keyway_server::AdminBodyError)
                        .boxed_unsync()
                })
            })
        },
    ))
}

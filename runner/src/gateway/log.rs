//! The one log line the gateway writes per invocation.

/// The one log line of an invocation.
pub(super) struct InvocationLog {
    pub(super) function: String,
    pub(super) request_id: String,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) status: u16,
    pub(super) duration_ms: f64,
    pub(super) init_ms: Option<f64>,
}

impl InvocationLog {
    pub(super) fn write(&self) {
        let InvocationLog {
            function,
            request_id,
            method,
            path,
            status,
            duration_ms,
            ..
        } = self;
        match self.init_ms {
            Some(init_ms) => tracing::info!(
                %function, %request_id, %method, %path, status, duration_ms, init_ms,
                "invocation (cold start)"
            ),
            None => tracing::info!(
                %function, %request_id, %method, %path, status, duration_ms, "invocation"
            ),
        }
    }
}

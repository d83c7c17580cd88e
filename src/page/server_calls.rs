//! Carrying out the page's allowlisted server calls: the requests a call is
//! made of, in order, then the answer shaped for the page.

use super::CallError;
use super::protocol::{self, ServerCall};
use crate::server::client::{ApiError, ServerClient};
use serde_json::Value;

/// Runs one allowlisted call against the server.
pub async fn run(client: &ServerClient, call: &ServerCall) -> Result<Value, CallError> {
    let mut answers = Vec::new();
    for request in call.requests() {
        let answer = client.call_json(&request).await.map_err(call_error)?;
        answers.push(answer);
    }
    Ok(protocol::shape_answer(call, answers))
}

/// A server error as the page sees it.
pub fn call_error(e: ApiError) -> CallError {
    let kind = match &e {
        ApiError::Unauthorized => "auth",
        ApiError::Unreachable(_) | ApiError::Timeout(_) => "unreachable",
        ApiError::Status { status: 404, .. } => "not_found",
        _ => "server",
    };
    CallError {
        kind,
        message: e.to_string(),
    }
}

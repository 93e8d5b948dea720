//! What the page's server answers: bodies whole or streamed, JSON, errors.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A response body: whole, or events sent as they happen.
pub enum Body {
    Whole(Option<Bytes>),
    Stream(mpsc::UnboundedReceiver<Bytes>),
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }
}

pub type Answer = Response<Body>;

pub fn whole(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Body::Whole(Some(body.into())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn json_answer(value: &Value) -> Answer {
    whole(StatusCode::OK, "application/json", value.to_string())
}

/// An error for the page: `{"error": "..."}`.
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Answer {
    whole(
        status,
        "application/json",
        json!({"error": message.to_string()}).to_string(),
    )
}

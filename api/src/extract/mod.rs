//! Request extractors that answer in Longshore's error shape.

pub mod auth;
pub mod json;

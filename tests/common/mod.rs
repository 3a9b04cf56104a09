//! Helpers shared by the end-to-end tests of the `pw` binary.
#![allow(dead_code)]

pub(crate) mod cluster;

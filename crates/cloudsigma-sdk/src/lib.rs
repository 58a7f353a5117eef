//! A typed client for CloudSigma API 2.0 (work in progress).

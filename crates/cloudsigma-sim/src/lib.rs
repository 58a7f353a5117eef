//! A CloudSigma API 2.0 simulator (work in progress).

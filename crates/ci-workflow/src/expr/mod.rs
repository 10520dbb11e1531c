//! TODO: not written yet.

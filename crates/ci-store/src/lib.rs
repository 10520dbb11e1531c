//! Result space of hashtree-ci.
//!
//! Results live at `<runner-npub>/ci/<owner-npub>/<repo-path>/<commit>/`;
//! this crate resolves those paths and stores and reads them.

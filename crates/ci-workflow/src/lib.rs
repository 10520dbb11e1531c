//! GitHub Actions workflow model.
//!
//! Reads `.github/workflows/*.yml` into a typed model with a position for
//! every value, evaluates `${{ }}` expressions as GitHub does, expands
//! matrices, orders jobs by `needs` and matches triggers. It knows nothing
//! about processes: the runner executes what this crate plans.

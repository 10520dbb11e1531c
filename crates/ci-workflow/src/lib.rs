//! GitHub Actions workflow model.
//!
//! Reads `.github/workflows/*.yml` into a typed model with a position for
//! every value, evaluates `${{ }}` expressions as GitHub does, expands
//! matrices, orders jobs by `needs` and matches triggers. It knows nothing
//! about processes: the runner executes what this crate plans.

pub mod diagnostic;
pub mod expr;
pub mod glob;
pub mod graph;
pub mod load;
pub mod matrix;
pub mod model;
pub mod plan;
pub mod trigger;
pub mod yaml;

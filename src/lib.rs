//! Workspace root package. It holds no code of its own: its `tests/` folder holds the
//! end-to-end tests that cross crates (data fetched by `make data` -> readers -> loader).

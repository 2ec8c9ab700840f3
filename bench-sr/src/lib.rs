//! Super-resolution suite (DIV2K layout, HR photo pool) for local learning.

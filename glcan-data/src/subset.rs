//! A dataset restricted to some of its samples (small real subsets for tests and quick runs).

use std::sync::Arc;

use super::{index_error, Dataset, Sample};
use crate::{Error, Result};

/// The samples of `inner` at `indices`, in that order.
pub struct Subset<D> {
    inner: Arc<D>,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// Fails if an index is out of range.
    pub fn new(inner: Arc<D>, indices: Vec<usize>) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= inner.len()) {
            return Err(Error::config("subset", format!("index {bad} is past the dataset's {} samples", inner.len())));
        }
        Ok(Subset { inner, indices })
    }

    /// The first `n` samples (all of them when `n` is larger).
    pub fn first(inner: Arc<D>, n: usize) -> Self {
        let indices = (0..n.min(inner.len())).collect();
        Subset { inner, indices }
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    type Target = D::Target;

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Sample<D::Target>> {
        let &inner_index = self.indices.get(index).ok_or_else(|| index_error("subset", index, self.indices.len()))?;
        self.inner.get(inner_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassLabel, ImageU8};

    struct Numbers;

    impl Dataset for Numbers {
        type Target = ClassLabel;
        fn len(&self) -> usize {
            5
        }
        fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
            Ok(Sample { image: ImageU8::from_chw(1, 1, 1, vec![index as u8]), target: index as ClassLabel })
        }
    }

    #[test]
    fn picks_and_checks_indices() {
        let subset = Subset::new(Arc::new(Numbers), vec![4, 1]).unwrap();
        assert_eq!(subset.len(), 2);
        assert_eq!(subset.get(0).unwrap().target, 4);
        assert!(subset.get(2).is_err());
        assert!(Subset::new(Arc::new(Numbers), vec![5]).err().unwrap().to_string().contains("index 5"));
        assert_eq!(Subset::first(Arc::new(Numbers), 99).len(), 5);
    }
}

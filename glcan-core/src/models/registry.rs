//! The one registry of network names, read by every command line and preset: a name is
//! parsed (and refused with the names that exist) once, where it is read.
//!
//! - `resnetN`: the CIFAR ResNet of He et al. (N = 6m + 2: 8, 20, 32, 56, 110, ...), except
//!   that N = 10, 18, 34, 50, 101, 152 name the ImageNet ResNets;
//! - `resnetN-wW`: the ImageNet ResNet of depth N with base width W (64 when absent): the
//!   thin backbones of the detection presets;
//! - `cifar-resnetN`, `imagenet-resnetN[-wW]`: the family forced (`cifar-resnet50`);
//! - `densenet-bc-100`: DenseNet-BC-100-12 for CIFAR (Huang et al. 2017);
//! - `vgg13`, `vgg19`: VGG with BN, torchvision's ImageNet layout (Simonyan & Zisserman 2015);
//! - `wrn-D-K`: the wide ResNet of depth D = 6n + 4 and widen factor K (Zagoruyko &
//!   Komodakis 2016), e.g. `wrn-28-10`.
//!
//! EDSR is not named here: the SR presets shape it with their `[edsr]` table.

use std::fmt;
use std::str::FromStr;

use super::{DenseNetBc, ResNetCifar, ResNetImageNet, UnitNetwork, Vgg, WideResNet};
use crate::{Error, Result};

/// What `--help` and error messages say about the names.
pub const NAMES: &str = "resnetN (CIFAR ResNet, N = 6m + 2: 20, 32, 56, 110), resnet10/18/34/50/101/152 (ImageNet ResNet), \
                         resnetN-wW (ImageNet ResNet of base width W), cifar-resnetN or imagenet-resnetN[-wW] (family forced), \
                         densenet-bc-100 (DenseNet-BC-100-12, CIFAR), vgg13 or vgg19 (VGG with BN, ImageNet layout), \
                         wrn-D-K (wide ResNet, D = 6n + 4, widen K: wrn-28-10)";

/// The depths of the ImageNet ResNets ([`ResNetImageNet::with_width`]).
const IMAGENET_DEPTHS: [usize; 6] = [10, 18, 34, 50, 101, 152];

/// The network families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Three stages of basic blocks on small images (He et al. 2016, Section 4.2).
    Cifar,
    /// A stride-4 stem and four stages (He et al. 2016, Table 1).
    ImageNet,
    /// DenseNet-BC-100-12 for CIFAR.
    DenseNetBc,
    /// VGG-13 or VGG-19 with BN; `depth` says which.
    Vgg,
    /// A wide ResNet; `depth` and `width` (the widen factor) say which.
    WideResNet,
}

/// A network name, checked when it is read; it prints as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NetworkName {
    written: String,
    family: Family,
    depth: usize,
    width: i64,
}

impl NetworkName {
    pub fn family(&self) -> Family {
        self.family
    }

    /// The network for `in_channels`-channel images of `input_size` pixels and
    /// `num_classes` classes.
    pub fn build(&self, in_channels: i64, num_classes: i64, input_size: i64) -> Result<Box<dyn UnitNetwork>> {
        match self.family {
            Family::Cifar => Ok(Box::new(ResNetCifar::new(self.depth, in_channels, num_classes, input_size)?)),
            Family::ImageNet if in_channels != 3 => {
                Err(Error::config("network", format!("{self} takes 3-channel images, not {in_channels}")))
            }
            Family::ImageNet => Ok(Box::new(ResNetImageNet::with_width(self.depth, self.width, num_classes, input_size)?)),
            Family::DenseNetBc => Ok(Box::new(DenseNetBc::new(in_channels, num_classes, input_size)?)),
            Family::Vgg => Ok(Box::new(Vgg::new(self.depth, in_channels, num_classes, input_size)?)),
            Family::WideResNet => Ok(Box::new(WideResNet::new(self.depth, self.width, in_channels, num_classes, input_size)?)),
        }
    }
}

impl FromStr for NetworkName {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        let unknown = || Error::config("network", format!("unknown network {name:?}: expected {NAMES}"));
        if let Some(other) = other_family(name)? {
            return Ok(other);
        }
        let (forced, rest) = match name.split_once('-') {
            Some(("cifar", rest)) => (Some(Family::Cifar), rest),
            Some(("imagenet", rest)) => (Some(Family::ImageNet), rest),
            _ => (None, name),
        };
        let rest = rest.strip_prefix("resnet").ok_or_else(unknown)?;
        let (depth, width) = match rest.split_once("-w") {
            Some((depth, width)) => (depth, Some(width.parse::<i64>().map_err(|_| unknown())?)),
            None => (rest, None),
        };
        let depth: usize = depth.parse().map_err(|_| unknown())?;
        let family = forced.unwrap_or(if width.is_some() || IMAGENET_DEPTHS.contains(&depth) { Family::ImageNet } else { Family::Cifar });
        match family {
            Family::Cifar if width.is_some() => {
                return Err(Error::config("network", format!("{name}: a width (-wW) applies to ImageNet ResNets only")))
            }
            Family::Cifar if depth < 8 || !(depth - 2).is_multiple_of(6) => {
                return Err(Error::config(
                    "network",
                    format!("{name}: a CIFAR ResNet has 6m + 2 layers (20, 32, 56, 110, ...), not {depth}"),
                ))
            }
            Family::ImageNet if !IMAGENET_DEPTHS.contains(&depth) => {
                return Err(Error::config(
                    "network",
                    format!("{name}: ImageNet ResNets have 10, 18, 34, 50, 101 or 152 layers, not {depth}"),
                ))
            }
            _ if width.is_some_and(|w| w < 1) => return Err(Error::config("network", format!("{name}: the width must be at least 1"))),
            _ => {}
        }
        Ok(NetworkName { written: name.to_owned(), family, depth, width: width.unwrap_or(64) })
    }
}

/// The name of a network other than a ResNet (`None` for a ResNet name, or an unknown one).
fn other_family(name: &str) -> Result<Option<NetworkName>> {
    let named = |family, depth, width| Ok(Some(NetworkName { written: name.to_owned(), family, depth, width }));
    match name {
        "densenet-bc-100" => return named(Family::DenseNetBc, 100, 12),
        "vgg13" => return named(Family::Vgg, 13, 64),
        "vgg19" => return named(Family::Vgg, 19, 64),
        _ => {}
    }
    let Some(rest) = name.strip_prefix("wrn-") else { return Ok(None) };
    let bad =
        || Error::config("network", format!("{name}: expected wrn-D-K, a wide ResNet of depth D = 6n + 4 and widen factor K (wrn-28-10)"));
    let (depth, widen) = rest.split_once('-').ok_or_else(bad)?;
    let (depth, widen): (usize, i64) = (depth.parse().map_err(|_| bad())?, widen.parse().map_err(|_| bad())?);
    if depth < 10 || !(depth - 4).is_multiple_of(6) || widen < 1 {
        return Err(bad());
    }
    named(Family::WideResNet, depth, widen)
}

impl TryFrom<String> for NetworkName {
    type Error = Error;

    fn try_from(name: String) -> Result<Self> {
        name.parse()
    }
}

impl From<NetworkName> for String {
    fn from(name: NetworkName) -> String {
        name.written
    }
}

impl fmt::Display for NetworkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(name: &str, channels: i64, size: i64) -> Result<String> {
        Ok(name.parse::<NetworkName>()?.build(channels, 10, size)?.name())
    }

    #[test]
    fn names_build_their_networks() {
        assert_eq!(build("resnet32", 3, 32).unwrap(), "resnet32");
        assert_eq!(build("resnet50", 3, 96).unwrap(), "resnet50-imagenet");
        assert_eq!(build("cifar-resnet50", 1, 28).unwrap(), "resnet50");
        assert_eq!("resnet10-w8".parse::<NetworkName>().unwrap().family(), Family::ImageNet);
        assert_eq!("resnet10-w8".parse::<NetworkName>().unwrap().to_string(), "resnet10-w8");
        assert!(build("resnet18", 1, 28).unwrap_err().to_string().contains("3-channel"));
        assert_eq!(build("densenet-bc-100", 3, 32).unwrap(), "densenet-bc-100");
        assert_eq!(build("vgg13", 3, 224).unwrap(), "vgg13");
        assert_eq!(build("vgg19", 1, 28).unwrap(), "vgg19");
        assert_eq!(build("wrn-28-10", 3, 32).unwrap(), "wrn-28-10");
        assert_eq!(build("wrn-16-4", 1, 28).unwrap(), "wrn-16-4");
        assert_eq!("wrn-28-10".parse::<NetworkName>().unwrap().family(), Family::WideResNet);
    }

    #[test]
    fn bad_names_say_what_exists() {
        for (bad, expected) in [
            ("vgg16", "expected resnetN"),
            ("resnet", "expected resnetN"),
            ("resnet33", "6m + 2"),
            ("imagenet-resnet20", "10, 18, 34"),
            ("resnet10-wx", "expected resnetN"),
            ("resnet10-w0", "at least 1"),
            ("cifar-resnet20-w8", "ImageNet ResNets only"),
            ("vgg11", "expected resnetN"),
            ("densenet-bc-121", "expected resnetN"),
            ("wrn-27-10", "6n + 4"),
            ("wrn-28", "6n + 4"),
            ("wrn-28-0", "6n + 4"),
        ] {
            let message = bad.parse::<NetworkName>().unwrap_err().to_string();
            assert!(message.contains(expected), "{bad}: {message}");
        }
        let from_toml =
            toml::from_str::<std::collections::BTreeMap<String, NetworkName>>("network = \"resnet31\"\n").unwrap_err().to_string();
        assert!(from_toml.contains("6m + 2"), "{from_toml}");
    }
}

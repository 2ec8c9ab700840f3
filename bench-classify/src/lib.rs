//! Classification suites (CIFAR-10/100, STL-10, SVHN, ImageNet, MNIST, Fashion-MNIST) for local learning.

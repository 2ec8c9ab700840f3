fn main() {
    glcan_build::link_libtorch();
}

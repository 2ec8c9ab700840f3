fn main() {
    glcan_build::link_libtorch();
    glcan_build::stamp_git_commit();
}

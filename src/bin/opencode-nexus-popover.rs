fn main() {
    opencode_nexus::popover::probe();
}

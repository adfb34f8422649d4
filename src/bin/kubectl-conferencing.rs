//! `kubectl-conferencing`: the kubectl plugin (`kubectl conferencing ...`). The logic lives in
//! the library (`conferencing_operator::kubectl_plugin`), where it is unit-tested.

fn main() -> std::process::ExitCode {
    conferencing_operator::kubectl_plugin::main()
}

//! The remote password's rules: the page protocol checks the length of a
//! new remote password with them (`password::check_new`).

#[path = "../../../src/remote/password.rs"]
pub mod password;

//! Several instances as one, on etcd: the shared client (`etcd`). What
//! each part keeps there is with that part (`reload::etcd`: the
//! configuration's keys; `acme::cluster`: ACME).

pub mod etcd;

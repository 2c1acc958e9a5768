//! Compiles the agent protocol (proto/switchboard/agent/v1/agent.proto) into Rust with
//! protox, a protobuf compiler written in Rust, so building needs no `protoc` on the machine.
//! Also tells cargo to build again when a migration is added: `sqlx::migrate!` reads the
//! directory at compile time, and without this a new file alone would not be compiled in.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/switchboard/agent/v1/agent.proto";
    println!("cargo:rerun-if-changed={proto}");
    println!("cargo:rerun-if-changed=migrations");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}

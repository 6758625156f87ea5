//! The engine cases of tests/cases/docker.rs under Podman (Debian's 4.3):
//! rootful, all of them; rootless (as the unprivileged `berth-podman`, berth
//! PID 1 of a user namespace, `--network none`), the PID 1 ones. Without
//! Podman these say so and skip, or fail when `CI=true`.
//!
//! Not repeated here: Docker's 10 s stop of an app without an init (the
//! kernel's rule, the same under any engine) and compose.

use super::docker;
use crate::support::docker::{Docker, Engine};

fn rootful() -> Option<Docker> {
    Docker::on(Engine::Podman)
}

fn rootless() -> Option<Docker> {
    Docker::on(Engine::RootlessPodman)
}

#[test]
fn rootful_healthcheck_goes_starting_healthy_unhealthy_healthy() {
    if let Some(mut d) = rootful() {
        docker::health_cycle(&mut d);
    }
}

#[test]
fn rootful_stop_reaches_the_app_through_berth() {
    if let Some(mut d) = rootful() {
        docker::stop_reaches_the_app(&mut d);
    }
}

#[test]
fn rootful_exit_codes_pass_through() {
    if let Some(mut d) = rootful() {
        docker::exit_codes_pass_through(&mut d);
    }
}

#[test]
fn rootful_orphans_leave_no_zombies() {
    if let Some(mut d) = rootful() {
        docker::orphans_leave_no_zombies(&mut d);
    }
}

#[test]
fn rootful_names_resolve_on_a_user_network() {
    if let Some(mut d) = rootful() {
        docker::names_resolve_on_a_user_network(&mut d);
    }
}

#[test]
fn rootful_under_run_init_berth_is_a_subreaper() {
    if let Some(mut d) = rootful() {
        docker::under_run_init_berth_is_a_subreaper(&mut d);
    }
}

#[test]
fn rootless_stop_reaches_the_app_through_berth() {
    if let Some(mut d) = rootless() {
        docker::stop_reaches_the_app(&mut d);
    }
}

#[test]
fn rootless_exit_codes_pass_through() {
    if let Some(mut d) = rootless() {
        docker::exit_codes_pass_through(&mut d);
    }
}

#[test]
fn rootless_orphans_leave_no_zombies() {
    if let Some(mut d) = rootless() {
        docker::orphans_leave_no_zombies(&mut d);
    }
}

#[test]
fn rootless_healthcheck_goes_starting_healthy_unhealthy_healthy() {
    if let Some(mut d) = rootless() {
        docker::health_cycle(&mut d);
    }
}

mod check_postgres;
mod check_redis;
mod run;

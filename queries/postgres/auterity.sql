-- purpose: source schema of Auterity (users, sessions, business events, performance metrics)
-- Kept consistent with auterity_lab/schema.py by tests/test_schema.py.
-- The spec's user_sessions keeps its columns (§4.1) plus tenant_id; timestamps are timestamptz
-- (UTC) everywhere instead of the spec's TIMESTAMP. users, events and performance_metrics are
-- our additions (spec trackEvent / trackPerformanceMetric).

CREATE TABLE IF NOT EXISTS users (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    email varchar(255),
    country varchar(2),
    device varchar(20),
    plan varchar(20),
    acquisition_channel varchar(30),
    analytics_consent boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS user_sessions (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    user_id uuid,
    session_id varchar(255),
    start_time timestamptz,
    end_time timestamptz,
    duration integer,
    page_views integer,
    events jsonb,
    device_info jsonb,
    location_info jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS events (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    user_id uuid,
    session_id varchar(255),
    event_type varchar(64) NOT NULL,
    properties jsonb,
    revenue numeric(12,2),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS performance_metrics (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    service varchar(64) NOT NULL,
    endpoint varchar(255) NOT NULL,
    method varchar(10) NOT NULL,
    response_time_ms integer NOT NULL,
    status_code smallint NOT NULL,
    user_agent text,
    ip_address varchar(45),
    user_id uuid,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

-- spec §4.2
CREATE INDEX IF NOT EXISTS idx_user_sessions_user_id ON user_sessions(user_id);
CREATE INDEX IF NOT EXISTS idx_user_sessions_created_at ON user_sessions(created_at);
CREATE INDEX IF NOT EXISTS idx_user_sessions_time_range ON user_sessions(start_time, end_time);
-- ours: tenant scope and the extract watermark
CREATE INDEX IF NOT EXISTS idx_users_tenant_created ON users(tenant_id, created_at);
CREATE INDEX IF NOT EXISTS idx_user_sessions_tenant_created ON user_sessions(tenant_id, created_at);
CREATE INDEX IF NOT EXISTS idx_events_tenant_created ON events(tenant_id, created_at);
CREATE INDEX IF NOT EXISTS idx_events_created_at ON events(created_at);
CREATE INDEX IF NOT EXISTS idx_performance_metrics_created_at ON performance_metrics(created_at);

-- purpose: the workbench's derived tables, for teams that keep them in Postgres
-- Kept consistent with auterity_lab/schema.py by tests/test_schema.py.
-- system_correlations and unified_insights are the spec's (§4.1) plus tenant_id (and, for
-- insights, a stable insight_key and updated_at); report_runs and alert_state are ours.

CREATE TABLE IF NOT EXISTS system_correlations (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    correlation_type varchar(50),
    systems jsonb,
    correlation_value numeric(5,4),
    confidence numeric(5,4),
    business_value numeric(10,2),
    metadata jsonb,
    calculated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS unified_insights (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    insight_key text NOT NULL,
    insight_type varchar(50),
    title varchar(255),
    description text,
    severity varchar(20),
    affected_systems jsonb,
    metrics jsonb,
    recommendations jsonb,
    status varchar(20) NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS report_runs (
    run_id text,
    tenant_id varchar(64) NOT NULL,
    report text NOT NULL,
    parameters jsonb,
    manifest_fingerprint text,
    package_version text,
    status text NOT NULL,
    error text,
    started_at timestamptz NOT NULL,
    duration_s double precision,
    PRIMARY KEY (run_id)
);

CREATE TABLE IF NOT EXISTS alert_state (
    rule_id text,
    tenant_id varchar(64),
    last_triggered_at timestamptz,
    trigger_count integer NOT NULL,
    status text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (rule_id, tenant_id)
);

-- spec §4.2
CREATE INDEX IF NOT EXISTS idx_system_correlations_type ON system_correlations(correlation_type);
CREATE INDEX IF NOT EXISTS idx_unified_insights_type ON unified_insights(insight_type);
CREATE INDEX IF NOT EXISTS idx_unified_insights_status ON unified_insights(status);
-- ours
CREATE UNIQUE INDEX IF NOT EXISTS idx_unified_insights_key ON unified_insights(tenant_id, insight_key);

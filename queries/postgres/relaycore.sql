-- purpose: source schema of RelayCore (workflow runs and their step attempts)
-- Kept consistent with auterity_lab/schema.py by tests/test_schema.py.
-- The spec names RelayCore workflow metrics without a schema; these tables are ours.

CREATE TABLE IF NOT EXISTS workflow_runs (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    workflow_id varchar(100) NOT NULL,
    status varchar(20) NOT NULL,
    trigger varchar(20),
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    duration_ms bigint,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS workflow_steps (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    run_id uuid NOT NULL,
    step_index smallint NOT NULL,
    step_name varchar(100) NOT NULL,
    step_type varchar(20) NOT NULL,
    attempt smallint NOT NULL,
    status varchar(20) NOT NULL,
    started_at timestamptz,
    duration_ms bigint,
    error text,
    prompt_output_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE INDEX IF NOT EXISTS idx_workflow_runs_created_at ON workflow_runs(created_at);
CREATE INDEX IF NOT EXISTS idx_workflow_runs_tenant_workflow ON workflow_runs(tenant_id, workflow_id);
CREATE INDEX IF NOT EXISTS idx_workflow_steps_created_at ON workflow_steps(created_at);
CREATE INDEX IF NOT EXISTS idx_workflow_steps_run_id ON workflow_steps(run_id);

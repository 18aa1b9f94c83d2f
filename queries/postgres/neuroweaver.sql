-- purpose: source schema of Neuroweaver (prompt outputs, feedback, experiments)
-- Kept consistent with auterity_lab/schema.py by tests/test_schema.py.
-- The spec's prompt_outputs keeps its columns (§4.1) plus tenant_id, user_id, prompt_version,
-- input_tokens, output_tokens, status and error. feedback (spec submitFeedback) and the
-- experiment tables (spec A/B testing, startModelTuning) are our additions.

CREATE TABLE IF NOT EXISTS prompt_outputs (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    user_id uuid,
    prompt_hash varchar(64),
    prompt text,
    output text,
    model_id varchar(100),
    model_version varchar(50),
    prompt_version varchar(50),
    tokens_used integer,
    input_tokens integer,
    output_tokens integer,
    response_time_ms integer,
    status varchar(20) NOT NULL,
    error text,
    user_rating numeric(3,2),
    user_feedback text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS feedback (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    prompt_output_id uuid NOT NULL,
    user_id uuid,
    rating smallint NOT NULL,
    comment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS experiments (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    experiment_key varchar(100) NOT NULL,
    name text,
    status varchar(20) NOT NULL,
    variants jsonb,
    primary_metric varchar(64),
    started_at timestamptz,
    ended_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS experiment_assignments (
    id uuid,
    tenant_id varchar(64) NOT NULL,
    experiment_id uuid NOT NULL,
    user_id uuid NOT NULL,
    variant varchar(50) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);

-- spec §4.2
CREATE INDEX IF NOT EXISTS idx_prompt_outputs_model_id ON prompt_outputs(model_id);
CREATE INDEX IF NOT EXISTS idx_prompt_outputs_created_at ON prompt_outputs(created_at);
CREATE INDEX IF NOT EXISTS idx_prompt_outputs_performance
    ON prompt_outputs(model_id, response_time_ms, user_rating);
-- ours
CREATE INDEX IF NOT EXISTS idx_prompt_outputs_tenant_created ON prompt_outputs(tenant_id, created_at);
CREATE INDEX IF NOT EXISTS idx_feedback_created_at ON feedback(created_at);
CREATE INDEX IF NOT EXISTS idx_feedback_prompt_output_id ON feedback(prompt_output_id);
CREATE INDEX IF NOT EXISTS idx_experiment_assignments_experiment
    ON experiment_assignments(experiment_id, user_id);

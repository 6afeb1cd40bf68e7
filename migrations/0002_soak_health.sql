-- Soak means live *and healthy* without a break: remember when an environment last came back
-- to healthy after an unhealthy verdict, so the soak gate counts from then.
ALTER TABLE environments ADD COLUMN recovered_at timestamptz;

-- The seed example's transform (pipelines/seed_example.yaml), run by dbt after the load into
-- Salesforce committed. Salesforce is not a warehouse dbt can query here, so this model
-- turns what dteg recorded about the load, the dead letters (JSON Lines: the validate step's
-- and Salesforce's own rejections), into a table of verdicts per step and error code.
select
    step,
    case
        when reason like 'Salesforce rejected the record: %'
            then split_part(replace(reason, 'Salesforce rejected the record: ', ''), ':', 1)
        else 'dteg:' || coalesce(rule, 'record')
    end as error_code,
    count(*) as records
from read_json_auto('{{ var("seed_dead_letters", "../.dteg/dead_letter/example_elt/*.jsonl") }}',
                    union_by_name = true)
group by 1, 2

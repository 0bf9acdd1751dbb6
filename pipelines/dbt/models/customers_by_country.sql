-- Built by dbt after dteg has loaded (and masked) the customers.
select
    country,
    count(*) as customers,
    sum(lifetime_value) as lifetime_value
from {{ source('quickstart', 'customers') }}
group by country

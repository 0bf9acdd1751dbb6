select country, count(*) as customers
from {{ source('shop', 'customers') }}
group by country

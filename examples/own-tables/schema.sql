-- An adopter's shop, the way a product keeps personal data in its own tables, put under
-- pgcomply's rules with one call per table. Run it as the tables' owner (a superuser will do)
-- in a database pgcomply is set up in:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f examples/own-tables/schema.sql
-- test/db/own-tables.test.ts runs it.

create schema shop;
comment on schema shop is 'An example product''s own tables (examples/own-tables/schema.sql).';

-- the product's customer, keyed by its own id; user_id is the pgcomply subject
create table shop.customers (
  id bigint generated always as identity,
  user_id text not null,
  email text not null,
  full_name text,
  created_at timestamptz not null default now(),
  constraint customers_pkey primary key (id),
  constraint customers_user_id_key unique (user_id)
);

-- an order reaches its subject through the customer
create table shop.orders (
  id bigint generated always as identity,
  customer_id bigint not null,
  shipping_address text not null,
  total numeric(12, 2) not null,
  placed_at timestamptz not null default now(),
  constraint orders_pkey primary key (id),
  constraint orders_customer_id_fkey foreign key (customer_id) references shop.customers (id)
);
create index orders_customer_id_idx on shop.orders (customer_id);

-- tax law keeps an invoice's amount and date for 10 years, not who it was for
create table shop.invoices (
  id bigint generated always as identity,
  customer_id bigint,
  billing_name text,
  billing_address text,
  amount numeric(12, 2) not null,
  issued_on date not null default current_date,
  constraint invoices_pkey primary key (id),
  constraint invoices_customer_id_fkey foreign key (customer_id) references shop.customers (id)
);
create index invoices_customer_id_idx on shop.invoices (customer_id);

create table shop.support_tickets (
  id bigint generated always as identity,
  user_id text not null,
  subject_line text not null,
  body text not null,
  opened_at timestamptz not null default now(),
  constraint support_tickets_pkey primary key (id)
);
create index support_tickets_user_id_idx on shop.support_tickets (user_id);

-- the audit log names a row by its key, which outlives erasure: the token is no key
create table shop.device_tokens (
  id bigint generated always as identity,
  token text not null,
  user_id text not null,
  platform text not null,
  registered_at timestamptz not null default now(),
  constraint device_tokens_pkey primary key (id),
  constraint device_tokens_token_key unique (token)
);
create index device_tokens_user_id_idx on shop.device_tokens (user_id);

select compliance.register_personal_table('shop.customers', 'user_id',
  personal_columns => '{"email": "contact", "full_name": "identifier"}');
select compliance.register_personal_table('shop.orders', 'customer_id',
  personal_columns => '{"shipping_address": "location"}', subject_via => 'shop.customers');
select compliance.register_personal_table('shop.invoices', 'customer_id',
  personal_columns => '{"billing_name": "identifier", "billing_address": "location"}', subject_via => 'shop.customers',
  erasure => 'anonymize', anonymize => '{"billing_name": null, "billing_address": null}',
  kept_basis => 'Tax law: an invoice''s amount and date are kept 10 years (GDPR Art. 17(3)(b))',
  retention_period => '10 years', retention_from => 'issued_on', retention_basis => 'Tax law: 10 years from issue');
select compliance.register_personal_table('shop.support_tickets', 'user_id',
  personal_columns => '{"subject_line": "free_text", "body": "free_text"}', subject_reads => true,
  retention_period => '2 years', retention_from => 'opened_at', retention_basis => 'Support quality: 2 years after a ticket is opened');
select compliance.register_personal_table('shop.device_tokens', 'user_id',
  personal_columns => '{"token": "online"}');

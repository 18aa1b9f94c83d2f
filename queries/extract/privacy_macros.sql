-- purpose: the privacy transforms of auterity_lab/privacy.py as DuckDB macros on the extract
-- connection, so they run vectorised inside the COPY from Postgres to Parquet.
-- The free-text scrubber calls the Python UDFs pii_scrub / pii_scrub_json (Luhn and mod-97
-- checks), and only for values that match the cheap prefilter regex passed as `prefilter`.

-- mask: keep a recognisable shape. E-mail: first character and domain (j***@example.com);
-- IPv4: first two octets (192.168.*.*); IPv6: first two groups (2001:db8:*); phone number:
-- separators and the last two digits (+*-***-**95); anything else: first character (s***).
CREATE OR REPLACE TEMP MACRO privacy_mask(v) AS CASE
    WHEN v IS NULL THEN NULL
    WHEN regexp_full_match(v, '[^@\s]+@[^@\s]+') THEN regexp_replace(v, '^([^@])[^@]*@', '\1***@')
    WHEN regexp_full_match(v, '\d{1,3}(\.\d{1,3}){3}') THEN regexp_extract(v, '^\d+\.\d+\.') || '*.*'
    WHEN regexp_full_match(v, '[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*')
        THEN regexp_extract(v, '^[0-9A-Fa-f]*:[0-9A-Fa-f]*') || ':*'
    WHEN regexp_full_match(v, '\+?[\d\s().-]{7,}')
        THEN regexp_replace(left(v, length(v) - 2), '\d', '*', 'g') || right(v, 2)
    WHEN v = '' THEN ''
    ELSE left(v, 1) || '***'
END;

-- hash: HMAC-SHA256 (RFC 2104) with the key's inner and outer pads bound as BLOB parameters;
-- hex digest for text, its first 128 bits for uuid columns (they stay joinable uuids).
CREATE OR REPLACE TEMP MACRO privacy_hash_text(v, ipad, opad) AS
    sha256(opad || unhex(sha256(ipad || encode(CAST(v AS VARCHAR)))));

CREATE OR REPLACE TEMP MACRO privacy_hash_uuid(v, ipad, opad) AS
    CAST(left(privacy_hash_text(v, ipad, opad), 32) AS UUID);

-- scrub: free text, and JSON documents (string values only, so the JSON stays valid).
CREATE OR REPLACE TEMP MACRO privacy_scrub(v, prefilter) AS
    CASE WHEN regexp_matches(v, prefilter) THEN pii_scrub(v) ELSE v END;

CREATE OR REPLACE TEMP MACRO privacy_scrub_json(v, prefilter) AS
    CASE WHEN regexp_matches(v, prefilter) THEN pii_scrub_json(v) ELSE v END;

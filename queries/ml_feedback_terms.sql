-- purpose: words of free-text feedback: in how many low-rating comments and how many other comments each occurs
-- grain: one row per term occurring in at least one low-rating comment, ordered by low-rating comments descending, then term
-- param: start TIMESTAMPTZ               inclusive start of the rated outputs' created_at (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: max_rating INTEGER = 2          a comment is low-rating when its rating <= this
-- param: min_length INTEGER = 3          shortest term counted (characters)
-- param: stopwords VARCHAR[]             lowercase words never counted
-- param: model VARCHAR = NULL            only feedback on outputs of this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: term VARCHAR, low_comments BIGINT, other_comments BIGINT, low_total BIGINT,
--          other_total BIGINT, example VARCHAR
--
-- Terms are the lowercased runs of Unicode letters and digits of a comment; each term counts
-- once per comment (document frequency). low_total / other_total are the numbers of non-blank
-- low-rating / other comments (the denominators of the shares); example is one low-rating
-- comment containing the term.
WITH comments AS (
    SELECT f.id, f.rating <= $max_rating AS low, f.comment
    FROM feedback AS f
    JOIN prompt_outputs AS p ON p.id = f.prompt_output_id
    WHERE p.created_at >= $start AND p.created_at < $end
      AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND f.date >= CAST($start AS DATE)
      AND f.comment IS NOT NULL AND trim(f.comment) <> ''
      AND ($model IS NULL OR p.model_id = $model)
      AND ($model_version IS NULL OR p.model_version = $model_version)
      AND ($prompt_version IS NULL OR p.prompt_version = $prompt_version)
), words AS (
    SELECT id, low, comment,
           unnest(string_split(regexp_replace(lower(comment), '[^\p{L}\p{N}]+', ' ', 'g'), ' '))
               AS term
    FROM comments
), terms AS (
    SELECT id, low, term, MIN(comment) AS comment
    FROM words
    WHERE length(term) >= $min_length AND NOT list_contains($stopwords, term)
    GROUP BY id, low, term
), totals AS (
    SELECT COUNT(*) FILTER (WHERE low) AS low_total, COUNT(*) FILTER (WHERE NOT low) AS other_total
    FROM comments
)
SELECT
    t.term,
    COUNT(*) FILTER (WHERE t.low) AS low_comments,
    COUNT(*) FILTER (WHERE NOT t.low) AS other_comments,
    MIN(s.low_total) AS low_total,
    MIN(s.other_total) AS other_total,
    MIN(t.comment) FILTER (WHERE t.low) AS example
FROM terms AS t
CROSS JOIN totals AS s
GROUP BY t.term
HAVING COUNT(*) FILTER (WHERE t.low) > 0
ORDER BY low_comments DESC, t.term

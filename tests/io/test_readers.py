import json

import pytest

from crftag.errors import DataError
from crftag.io.readers import read, read_conll, read_csv, read_jsonl, read_labelled, read_text


def write(tmp_path, name, content, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8", newline="")
    return p


def test_conll_variants(tmp_path):
    content = ("-DOCSTART- O\r\n\r\n"
               "New\tNNP\tB-geo-loc\r\nYork  NNP   I-geo-loc\r\n\r\n\r\n\r\n"
               "hi O\n"
               "there\tO")  # last sentence without final blank line
    sents = list(read_conll(write(tmp_path, "a.conll", content)))
    assert [s.tokens for s in sents] == [["New", "York"], ["hi", "there"]]
    assert [s.tags for s in sents] == [["B-geo-loc", "I-geo-loc"], ["O", "O"]]
    assert sents[0].line == 3 and sents[1].line == 8


def test_conll_unlabelled_reads_first_column(tmp_path):
    sents = list(read_conll(write(tmp_path, "a", "a\tB-x\nb\n"), labelled=False))
    assert sents[0].tokens == ["a", "b"] and sents[0].tags is None


@pytest.mark.parametrize(("content", "message"), [
    ("a\tO\nb\tB_person\n", "a.conll:2: tag 'B_person' is not in the BIO scheme"),
    ("a\tO\nlonely\n", "a.conll:2: expected 'token<TAB>tag', found 'lonely' with no tag"),
])
def test_conll_errors_name_file_and_line(tmp_path, content, message):
    p = write(tmp_path, "a.conll", content)
    with pytest.raises(DataError) as exc:
        list(read_conll(p))
    assert str(exc.value).startswith(f"{p.parent}/{message}")


def test_invalid_utf8_reports_line_and_byte(tmp_path):
    p = write(tmp_path, "bad.conll", b"ok\tO\nb\xffad\tO\n", mode="wb")
    with pytest.raises(DataError, match=r"bad.conll:2: invalid UTF-8 at byte offset 6"):
        list(read_conll(p))


def test_gmb_csv(tmp_path):
    content = ('Sentence #,Word,POS,Tag\r\n'
               'Sentence: 1,Thousands,NNS,O\r\n,of,IN,O\r\n,London,NNP,B-geo\r\n'
               'Sentence: 2,"Mr.,",NNP,B-per\r\n,Bush,NNP,I-per\r\n')
    sents = list(read_csv(write(tmp_path, "ner.csv", content)))
    assert [s.tokens for s in sents] == [["Thousands", "of", "London"], ["Mr.,", "Bush"]]
    assert sents[1].tags == ["B-per", "I-per"] and sents[0].id == "Sentence: 1"


def test_gmb_csv_errors(tmp_path):
    p = write(tmp_path, "ner.csv", "Sentence #,Word,POS,Tag\n,orphan,NN,O\n")
    with pytest.raises(DataError, match=r"ner.csv:2: first row has no sentence id"):
        list(read_csv(p))
    p = write(tmp_path, "bad.csv", "Word,Tag\nx,O\n")
    with pytest.raises(DataError, match=r"bad.csv:1: CSV header lacks column"):
        list(read_csv(p))


def test_csv_column_of_texts(tmp_path):
    """A CSV with a text column is tagged one row per tweet (it was refused for lacking the GMB
    columns); --text-col names another column, and wins over the GMB layout when given."""
    p = write(tmp_path, "t.csv", 'id,body,text\n1,"Obama, in Paris",x\n\n2,Tim Cook,y\n')
    sents = list(read_csv(p, labelled=False))
    assert [s.tokens for s in sents] == [["x"], ["y"]] and [s.id for s in sents] == ["1", "2"]
    sents = list(read_csv(p, labelled=False, text_col="body"))
    assert [s.tokens for s in sents] == [["Obama", ",", "in", "Paris"], ["Tim", "Cook"]]
    assert sents[0].text == "Obama, in Paris" and sents[0].extra == {"id": "1", "body": "Obama, in Paris",
                                                                      "text": "x"}
    assert [s.line for s in sents] == [2, 4]
    gmb = write(tmp_path, "g.csv", "Sentence #,Word,Tag,text\nSentence: 1,Obama,B-per,Obama rocks\n")
    assert [s.tokens for s in read_csv(gmb, labelled=False)] == [["Obama"]]  # the GMB layout first
    assert [s.tokens for s in read_csv(gmb, labelled=False, text_col="text")] == [["Obama", "rocks"]]
    with pytest.raises(DataError, match=r"t.csv:1: CSV header has no column 'nope' of texts \(--text-col\); "
                                        r"its columns: id, body, text"):
        list(read_csv(p, labelled=False, text_col="nope"))
    with pytest.raises(DataError, match=r"bad.csv:3: expected 2 columns, found 3"):
        list(read_csv(write(tmp_path, "bad.csv", "id,text\n1,a\n2,b,c\n"), labelled=False))
    with pytest.raises(DataError, match="CSV header lacks column"):
        list(read_csv(p, labelled=True))  # training data still needs the GMB columns


def test_jsonl(tmp_path):
    lines = [{"text": "Hello @bob !", "id": 7}, {"tokens": ["a", "b"], "tags": ["B-x", "I-x"]}]
    p = write(tmp_path, "in.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    sents = list(read_jsonl(p))
    assert sents[0].tokens == ["Hello", "@bob", "!"] and sents[0].id == 7
    assert sents[0].spans == [(0, 5), (6, 10), (11, 12)]
    assert sents[1].tokens == ["a", "b"]
    with pytest.raises(DataError, match=r"in.jsonl:1: 'tags' must be a list"):
        list(read_jsonl(p, labelled=True))


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "invalid JSON"), ("[1, 2]", "expected a JSON object"),
    ('{"tokens": "abc"}', "'tokens' must be a list"), ('{"foo": 1}', "expected a JSON object"),
])
def test_jsonl_errors(tmp_path, line, message):
    p = write(tmp_path, "x.jsonl", '{"text": "ok"}\n' + line + "\n")
    with pytest.raises(DataError, match=rf"x.jsonl:2: {message}"):
        list(read_jsonl(p))


def test_text_keeps_empty_lines(tmp_path):
    sents = list(read_text(write(tmp_path, "t.txt", "hi @you\n\nbye\n")))
    assert [s.tokens for s in sents] == [["hi", "@you"], [], ["bye"]]
    assert sents[0].text == "hi @you"


def test_read_guesses_format_and_labelled_concatenates(tmp_path, tiny_path):
    assert next(read(write(tmp_path, "x.jsonl", '{"text": "a b"}\n'), labelled=False)).tokens == ["a", "b"]
    both = read_labelled([tiny_path, tiny_path])
    assert len(both) == 2 * len(list(read_conll(tiny_path)))
    with pytest.raises(DataError, match="no sentences found"):
        read_labelled([write(tmp_path, "empty.conll", "\n\n")])


@pytest.mark.data
def test_real_gmb_sample():
    from conftest import registry_file

    sents = list(read_csv(registry_file("gmb:sample")))
    assert len(sents) == 8300
    assert sents[0].tokens[:3] == ["Thousands", "of", "demonstrators"]
    assert "B-geo" in {t for s in sents for t in s.tags}


@pytest.mark.data
def test_real_wnut16(wnut16_train, wnut16_dev):
    train = list(read_conll(wnut16_train))
    dev = list(read_conll(wnut16_dev))
    assert (len(train), sum(map(len, train))) == (2394, 46469)
    assert (len(dev), sum(map(len, dev))) == (1000, 16261)


def test_broad_twitter_corpus_debris(tmp_path):
    """Blank tokens tagged O are skipped; a token keeps inner spaces and loses outer ones; a line
    holding only a tab ends a sentence (WNUT17); a blank token tagged as an entity is refused."""
    from crftag.io.readers import read_conll

    path = tmp_path / "btc.conll"
    path.write_text("Watching\tO\n\tO\n \tO\nu R\tO\n😎 \tB-PER\n\t\nnext\tO\n", encoding="utf-8")
    sents = list(read_conll(path))
    assert [s.tokens for s in sents] == [["Watching", "u R", "😎"], ["next"]]
    assert sents[0].tags == ["O", "O", "B-PER"]
    assert [s.tokens for s in read_conll(path, labelled=False)] == [["Watching", "u R", "😎"], ["next"]]
    bad = tmp_path / "bad.conll"
    bad.write_text("a\tO\n\tB-PER\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.conll:2: blank token tagged 'B-PER'"):
        list(read_conll(bad))


def test_image_id_lines_end_a_sentence(tmp_path):
    """Twitter-2015/2017 put ``IMGID:<id>`` (no tab) before each tweet: a boundary, never a token.
    A line that only looks like one (leading space, a tab, a second field) is a token line."""
    from crftag.io.readers import read_conll, sniff_conll

    path = tmp_path / "t15.txt"
    path.write_text("IMGID:1015799\nGeorge\tB-PER\nZimmerman\tI-PER\nIMGID:O_31\nshot\tO\n\n"
                    "IMGID:17_06_12920\r\n#\tO\nMLB\tB-ORG\n", encoding="utf-8")
    sents = list(read_conll(path))
    assert [s.tokens for s in sents] == [["George", "Zimmerman"], ["shot"], ["#", "MLB"]]
    assert [s.tags for s in sents] == [["B-PER", "I-PER"], ["O"], ["O", "B-ORG"]]
    assert [s.line for s in sents] == [2, 5, 8]
    assert sniff_conll(path) is not None  # crftag tag recognises the file as CoNLL
    look_alike = tmp_path / "not-ids.conll"
    look_alike.write_text(" IMGID:7\tO\nIMGID:8\tO\nIMGID:9 O\n", encoding="utf-8")
    assert [s.tokens for s in read_conll(look_alike)] == [["IMGID:7", "IMGID:8", "IMGID:9"]]


#: sentences in each tuning file, as the corpora's papers and READMEs count them
TUNING_FILES = {"wnut17:train": None, "wnut17:dev": 1009, "btc:a": None, "btc:b": None, "btc:e": None,
                "btc:g": None, "btc:h": None, "twitter2015:train": 4000, "twitter2015:valid": 1000,
                "twitter2017:train": 3373, "twitter2017:valid": 723}


@pytest.mark.data
@pytest.mark.parametrize("name", list(TUNING_FILES))
def test_every_tuning_corpus_reads(name):
    from crftag.io.readers import read_conll
    from tests.conftest import registry_file

    sents = list(read_conll(registry_file(name)))
    assert sents and all(len(s.tokens) == len(s.tags) and all(s.tokens) for s in sents)
    assert not any(t.startswith("IMGID:") for s in sents for t in s.tokens)
    if TUNING_FILES[name] is not None:
        assert len(sents) == TUNING_FILES[name]

package io.gaialite;

import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.CollectionStatistics;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.TermStatistics;
import org.apache.lucene.util.BytesRef;

/**
 * An IndexSearcher that scores with statistics handed to it instead of its own index's: the term and
 * collection statistics of a whole corpus kept as parts, as Elasticsearch's DFS phase does. Each part reports
 * the statistics a query's scoring reads ({@link #localStats}); the caller sums them over the parts and opens
 * one of these per part with the sums, so that BM25 over the parts gives the scores of one index.
 *
 * <p>Statistics travel as text, one line each: {@code F field maxDoc docCount sumTotalTermFreq sumDocFreq}
 * and {@code T field termBytesInHex docFreq totalTermFreq}, tab-separated.
 */
public final class GlobalStatsSearcher extends IndexSearcher {
  private final Map<String, CollectionStatistics> fields = new HashMap<>();
  private final Map<Term, TermStatistics> terms = new HashMap<>();

  /** A searcher over {@code reader} that scores with {@code stats} (lines as {@link #localStats} writes). */
  public GlobalStatsSearcher(IndexReader reader, String stats) {
    super(reader);
    for (String line : stats.split("\n")) {
      if (line.isEmpty()) {
        continue;
      }
      String[] f = line.split("\t", -1);
      if (f[0].equals("F") && f.length == 6) {
        fields.put(f[1], new CollectionStatistics(f[1], Long.parseLong(f[2]), Long.parseLong(f[3]),
            Long.parseLong(f[4]), Long.parseLong(f[5])));
      } else if (f[0].equals("T") && f.length == 5) {
        BytesRef bytes = new BytesRef(unhex(f[2]));
        terms.put(new Term(f[1], bytes),
            new TermStatistics(bytes, Long.parseLong(f[3]), Long.parseLong(f[4])));
      } else {
        throw new IllegalArgumentException("not a statistics line: " + line);
      }
    }
  }

  @Override
  public CollectionStatistics collectionStatistics(String field) throws IOException {
    CollectionStatistics given = fields.get(field);
    return given != null ? given : super.collectionStatistics(field);
  }

  @Override
  public TermStatistics termStatistics(Term term, int docFreq, long totalTermFreq) throws IOException {
    TermStatistics given = terms.get(term);
    return given != null ? given : super.termStatistics(term, docFreq, totalTermFreq);
  }

  /** The statistics that scoring {@code query} reads from {@code searcher}'s own index, as lines. */
  public static String localStats(IndexSearcher searcher, Query query) throws IOException {
    Recorder recorder = new Recorder(searcher.getIndexReader());
    recorder.setSimilarity(searcher.getSimilarity());
    recorder.createWeight(recorder.rewrite(query), ScoreMode.COMPLETE, 1f);
    StringBuilder out = new StringBuilder();
    for (CollectionStatistics s : recorder.fields.values()) {
      out.append("F\t").append(s.field()).append('\t').append(s.maxDoc()).append('\t').append(s.docCount())
          .append('\t').append(s.sumTotalTermFreq()).append('\t').append(s.sumDocFreq()).append('\n');
    }
    for (Map.Entry<Term, TermStatistics> e : recorder.terms.entrySet()) {
      TermStatistics s = e.getValue();
      out.append("T\t").append(e.getKey().field()).append('\t').append(hex(s.term())).append('\t')
          .append(s.docFreq()).append('\t').append(s.totalTermFreq()).append('\n');
    }
    return out.toString();
  }

  /** Records every statistic that creating a query's weight asks for. */
  private static final class Recorder extends IndexSearcher {
    final Map<String, CollectionStatistics> fields = new LinkedHashMap<>();
    final Map<Term, TermStatistics> terms = new LinkedHashMap<>();

    Recorder(IndexReader reader) {
      super(reader);
    }

    @Override
    public CollectionStatistics collectionStatistics(String field) throws IOException {
      CollectionStatistics s = super.collectionStatistics(field);
      if (s != null) {
        fields.put(field, s);
      }
      return s;
    }

    @Override
    public TermStatistics termStatistics(Term term, int docFreq, long totalTermFreq) throws IOException {
      TermStatistics s = super.termStatistics(term, docFreq, totalTermFreq);
      terms.put(term, s);
      return s;
    }
  }

  private static String hex(BytesRef b) {
    StringBuilder out = new StringBuilder(b.length * 2);
    for (int i = 0; i < b.length; i++) {
      out.append(String.format("%02x", b.bytes[b.offset + i] & 0xff));
    }
    return out.toString();
  }

  private static byte[] unhex(String s) {
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return out;
  }
}

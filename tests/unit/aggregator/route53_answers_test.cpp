// Route 53's XML answers as the route53 action reads them: the elements it needs, and nothing taken from
// a body whose element text holds markup (a truncated or spliced answer), which reads as "absent".

#include "route53_answers.h"

#include <gtest/gtest.h>

namespace hale::aggregator {
namespace {

TEST(Route53AnswersTest, AChangeAnswerGivesItsIdAndStatus) {
  const Route53Change c = parseChangeInfo(
      "<?xml version=\"1.0\"?><ChangeResourceRecordSetsResponse><ChangeInfo><Id>/change/C123</Id>"
      "<Status>PENDING</Status><SubmittedAt>2026-12-02T10:00:00Z</SubmittedAt></ChangeInfo>"
      "</ChangeResourceRecordSetsResponse>");
  EXPECT_EQ(c.id, "/change/C123");
  EXPECT_EQ(c.status, "PENDING");
}

// Found by the provider_answers fuzz target: an element whose text runs over other elements' tags took
// them for its text, so the status read "PEe><ChangeInfo><Id>...</Id><Status>PENDING".
TEST(Route53AnswersTest, AnElementWhoseTextHoldsMarkupIsNotReadAsText) {
  const Route53Change c =
      parseChangeInfo("<Status>PEe><ChangeInfo><Id>/change/C123</Id><Status>PENDING</Status></ChangeInfo>");
  EXPECT_EQ(c.id, "/change/C123");
  EXPECT_EQ(c.status, "PENDING");
  EXPECT_EQ(parseChangeInfo("<Id>/ch<Id>x</Id>").id, "x");
}

TEST(Route53AnswersTest, AnUnclosedElementIsAbsent) {
  const Route53Change c = parseChangeInfo("<ChangeInfo><Id>/change/C1</Id><Status>INSYNC");
  EXPECT_EQ(c.id, "/change/C1");
  EXPECT_EQ(c.status, "");
}

TEST(Route53AnswersTest, TheRecordSetIsReadOnlyWhenItIsTheOneAskedFor) {
  const std::string body =
      "<ListResourceRecordSetsResponse><ResourceRecordSets><ResourceRecordSet><Name>app.example.com.</Name>"
      "<Type>A</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.2</Value></ResourceRecord>"
      "<ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>"
      "</ResourceRecordSets></ListResourceRecordSetsResponse>";
  const Route53RecordSet set = parseRecordSetAnswer(body, "app.example.com.", "A");
  EXPECT_TRUE(set.exists);
  EXPECT_EQ(set.values, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(set.ttl, 60);
  EXPECT_FALSE(parseRecordSetAnswer(body, "other.example.com.", "A").exists);
  EXPECT_FALSE(parseRecordSetAnswer(body, "app.example.com.", "AAAA").exists);
}

TEST(Route53AnswersTest, ATtlThatIsNotAWholeNumberReadsAsZero) {
  for (const char* ttl : {"", "-5", "6x", "99999999999999999999999"}) {
    const Route53RecordSet set =
        parseRecordSetAnswer(std::string("<ResourceRecordSet><Name>a.example.</Name><Type>A</Type><TTL>") + ttl +
                                 "</TTL></ResourceRecordSet>",
                             "a.example.", "A");
    EXPECT_TRUE(set.exists) << ttl;
    EXPECT_EQ(set.ttl, 0) << ttl;
  }
}

TEST(Route53AnswersTest, ANameIsComparedWithItsFinalDot) {
  EXPECT_EQ(withDot("app.example.com"), "app.example.com.");
  EXPECT_EQ(withDot("app.example.com."), "app.example.com.");
  EXPECT_TRUE(parseRecordSetAnswer("<ResourceRecordSet><Name>a.example</Name><Type>A</Type></ResourceRecordSet>",
                                   "a.example.", "A")
                  .exists);
}

}  // namespace
}  // namespace hale::aggregator
